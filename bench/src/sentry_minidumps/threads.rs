//! Which threads of a process took the CPU during a window, and how long they waited for one:
//! each thread's `/proc/PID/task/TID/schedstat` (nanoseconds on a CPU, and runnable but waiting
//! in a run queue), read before and after, grouped by thread name and nice value from its
//! `stat` (fake-sentry's minidump workers share a name prefix with its dispatcher but run at
//! nice 19). A thread that waits for a core while the minidump workers run is what the
//! workers' low priority is meant to prevent. Reading `/proc` costs the measured process
//! nothing.

use std::collections::BTreeMap;
use std::time::Duration;

/// A thread's name (at most 15 bytes) and nice value.
pub type Group = (String, i32);

/// Scheduler times so far of each live thread of one process, by thread id.
#[derive(Debug, Clone, Default)]
pub struct ThreadTimes(BTreeMap<u32, ThreadTime>);

#[derive(Debug, Clone)]
struct ThreadTime {
    group: Group,
    times: SchedTimes,
}

/// Time on a CPU, and time runnable but waiting for one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedTimes {
    pub on_cpu: Duration,
    pub waiting: Duration,
}

impl ThreadTimes {
    /// Reads every thread of `pid` (`self` for this process); threads that exit meanwhile
    /// are left out.
    pub fn read(pid: &str) -> std::io::Result<ThreadTimes> {
        let mut threads = BTreeMap::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let entry = entry?;
            let read = |file: &str| std::fs::read_to_string(entry.path().join(file)).ok();
            let (Some(stat), Some(schedstat)) = (read("stat"), read("schedstat")) else {
                continue;
            };
            let tid = entry.file_name().to_str().and_then(|t| t.parse().ok());
            if let (Some(tid), Some(group), Some(times)) =
                (tid, parse_stat(&stat), parse_schedstat(&schedstat))
            {
                threads.insert(tid, ThreadTime { group, times });
            }
        }
        Ok(ThreadTimes(threads))
    }

    /// Times per (name, nice) since `earlier`, most time on a CPU first. A thread started
    /// since counts from 0; one that exited since is lost.
    pub fn since(&self, earlier: &ThreadTimes) -> Vec<(Group, SchedTimes)> {
        let mut groups: BTreeMap<Group, SchedTimes> = BTreeMap::new();
        for (tid, now) in &self.0 {
            let before = earlier.0.get(tid).map(|t| t.times).unwrap_or_default();
            let sum = groups.entry(now.group.clone()).or_default();
            sum.on_cpu += now.times.on_cpu.saturating_sub(before.on_cpu);
            sum.waiting += now.times.waiting.saturating_sub(before.waiting);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|(_, times)| std::cmp::Reverse(times.on_cpu));
        groups
    }
}

/// The sum over every group.
pub fn total(groups: &[(Group, SchedTimes)]) -> SchedTimes {
    groups
        .iter()
        .fold(SchedTimes::default(), |sum, (_, times)| SchedTimes {
            on_cpu: sum.on_cpu + times.on_cpu,
            waiting: sum.waiting + times.waiting,
        })
}

/// The whole machine's CPU time so far, from the first line of `/proc/stat`, to tell what
/// other processes of a shared machine took during a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineTimes {
    /// Every core's time, idle or not.
    pub all: Duration,
    /// Running anything (user, nice, system, interrupts), or taken by the hypervisor.
    pub busy: Duration,
    /// Taken by the hypervisor for other guests.
    pub steal: Duration,
}

/// `/proc/stat`'s clock tick (`USER_HZ`), 100 on every Linux architecture the bench runs on.
const TICKS_PER_SECOND: u64 = 100;

impl MachineTimes {
    pub fn read() -> std::io::Result<MachineTimes> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        parse_proc_stat(&stat).ok_or_else(|| std::io::Error::other("no cpu line in /proc/stat"))
    }

    pub fn since(&self, earlier: &MachineTimes) -> MachineTimes {
        MachineTimes {
            all: self.all.saturating_sub(earlier.all),
            busy: self.busy.saturating_sub(earlier.busy),
            steal: self.steal.saturating_sub(earlier.steal),
        }
    }
}

/// The `cpu` line: user nice system idle iowait irq softirq steal (guest time is in user).
fn parse_proc_stat(stat: &str) -> Option<MachineTimes> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    let time = |ticks: u64| Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND);
    let busy = user + nice + system + irq + softirq + steal;
    Some(MachineTimes {
        all: time(busy + idle + iowait),
        busy: time(busy),
        steal: time(steal),
    })
}

/// A thread's name and nice value from its `stat` line.
fn parse_stat(stat: &str) -> Option<Group> {
    // The name is in parentheses and may hold spaces or parentheses: split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    // Fields from the third (state) on; nice is the 19th.
    let nice = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(16)?
        .parse()
        .ok()?;
    Some((name, nice))
}

/// `schedstat`: nanoseconds on a CPU, nanoseconds waiting in a run queue, timeslices.
fn parse_schedstat(schedstat: &str) -> Option<SchedTimes> {
    let mut fields = schedstat.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some(SchedTimes {
        on_cpu: Duration::from_nanos(fields.next()??),
        waiting: Duration::from_nanos(fields.next()??),
    })
}

/// Seconds on a CPU (and waiting for one), in all and per group that took or waited at least
/// 10 ms: `6.24 (0.80): name 2.57 (0.30), name (nice 19) 1.50 (0.41)`.
pub fn format_groups(groups: &[(Group, SchedTimes)]) -> String {
    let total = total(groups);
    let parts: Vec<String> = groups
        .iter()
        .filter(|(_, t)| t.on_cpu.max(t.waiting) >= Duration::from_millis(10))
        .map(|((name, nice), t)| {
            let name = match nice {
                0 => name.clone(),
                nice => format!("{name} (nice {nice})"),
            };
            format!(
                "{name} {:.2} ({:.2})",
                t.on_cpu.as_secs_f64(),
                t.waiting.as_secs_f64()
            )
        })
        .collect();
    format!(
        "{:.2} ({:.2}): {}",
        total.on_cpu.as_secs_f64(),
        total.waiting.as_secs_f64(),
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_schedstat_lines_give_name_nice_and_times() {
        let stat = "4242 (fake-sentry-min) S 1 4242 4242 0 -1 4194368 100 0 0 0 \
                    250 50 0 0 39 19 3 0 12345 0 0";
        assert_eq!(parse_stat(stat), Some(("fake-sentry-min".to_string(), 19)));
        let times = parse_schedstat("1500000000 250000000 42\n").expect("parses");
        assert_eq!(times.on_cpu, Duration::from_millis(1500));
        assert_eq!(times.waiting, Duration::from_millis(250));
    }

    #[test]
    fn proc_stat_gives_busy_and_steal() {
        let stat = "cpu  100 20 30 500 10 0 5 7 3 0\ncpu0 50 10 15 250 5 0 2 3 1 0\n";
        let times = parse_proc_stat(stat).expect("parses");
        assert_eq!(times.busy, Duration::from_millis(1620));
        assert_eq!(times.all, Duration::from_millis(6720));
        assert_eq!(times.steal, Duration::from_millis(70));
    }

    #[test]
    fn this_process_has_threads_that_used_the_cpu() {
        let before = ThreadTimes::read("self").expect("read /proc/self");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = ThreadTimes::read("self").expect("read /proc/self");
        assert!(total(&after.since(&before)).on_cpu > Duration::ZERO);
    }
}

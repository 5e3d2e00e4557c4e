//! Plausible names for modules, source files and functions, per OS flavour. Names never contain
//! `#` or `?` (they would break symbol-server URLs) and module basenames are unique in a program
//! (the processor keys symbol statistics by basename).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::profile::OsFlavor;

pub(crate) const WORDS: &[&str] = &[
    "render", "layout", "net", "http", "cache", "store", "dom", "style", "gfx", "font", "audio",
    "video", "codec", "ipc", "event", "timer", "task", "thread", "pool", "alloc", "string",
    "parser", "lexer", "token", "frame", "image", "decode", "encode", "crypto", "hash", "socket",
    "stream", "buffer", "queue", "worker", "script", "compile", "shader", "texture", "widget",
];

pub(crate) const TYPES: &[&str] = &[
    "Manager",
    "Context",
    "Handler",
    "Builder",
    "Reader",
    "Writer",
    "Client",
    "Server",
    "Engine",
    "Loader",
    "Scheduler",
    "Dispatcher",
    "Channel",
    "Session",
    "Registry",
];

pub(crate) const VERBS: &[&str] = &[
    "run", "process", "dispatch", "handle", "flush", "poll", "read", "write", "open", "close",
    "update", "resolve", "visit", "apply", "drain", "lookup", "insert", "remove", "notify",
];

const ARGS: &[&str] = &[
    "int",
    "char const*",
    "unsigned long",
    "void*",
    "bool",
    "double",
];

/// Generates names for one program.
pub struct NameGen {
    os: OsFlavor,
    counter: u32,
}

/// Android modules: the zygote's `app_process64`, the platform libraries every app maps (so
/// crashes land in `libc.so` and `libart.so` as real Android crashes do), then the app's own.
fn android_module_path(word: &str, index: usize) -> String {
    const PLATFORM: [&str; 6] = [
        "/apex/com.android.runtime/lib64/bionic/libc.so",
        "/apex/com.android.art/lib64/libart.so",
        "/system/lib64/libandroid_runtime.so",
        "/system/lib64/libbinder.so",
        "/system/lib64/libutils.so",
        "/apex/com.android.runtime/lib64/bionic/libm.so",
    ];
    match index {
        0 => "/system/bin/app_process64".to_string(),
        _ => match PLATFORM.get(index - 1) {
            Some(path) => (*path).to_string(),
            None => format!("/data/app/org.synth.app/lib/arm64/lib{word}{index}.so"),
        },
    }
}

pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

impl NameGen {
    pub fn new(os: OsFlavor) -> Self {
        NameGen { os, counter: 0 }
    }

    fn next_id(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// Full path of loaded module `index` (0 is the main executable).
    pub fn module_path(&mut self, rng: &mut ChaCha8Rng, index: usize) -> String {
        let word = pick(rng, WORDS);
        match (self.os, index) {
            (OsFlavor::Linux, 0) => format!("/usr/bin/{word}-app"),
            (OsFlavor::Linux, _) => format!("/usr/lib/x86_64-linux-gnu/lib{word}{index}.so"),
            (OsFlavor::Windows, 0) => format!(r"C:\Program Files\Synth\{word}app.exe"),
            (OsFlavor::Windows, _) => format!(r"C:\Program Files\Synth\{word}{index}.dll"),
            (OsFlavor::Mac, 0) => format!("/Applications/Synth.app/Contents/MacOS/{word}app"),
            (OsFlavor::Mac, _) => format!("/usr/lib/lib{word}{index}.dylib"),
            (OsFlavor::WindowsX86, 0) => format!(r"C:\Program Files (x86)\Synth\{word}app.exe"),
            (OsFlavor::WindowsX86, _) => {
                format!(r"C:\Program Files (x86)\Synth\{word}{index}.dll")
            }
            (OsFlavor::LinuxX86, 0) => format!("/usr/bin/{word}-app"),
            (OsFlavor::LinuxX86, _) => format!("/usr/lib/i386-linux-gnu/lib{word}{index}.so"),
            (OsFlavor::LinuxArm64, 0) => format!("/usr/bin/{word}-app"),
            (OsFlavor::LinuxArm64, _) => format!("/usr/lib/aarch64-linux-gnu/lib{word}{index}.so"),
            (OsFlavor::MacX86 | OsFlavor::MacArm64, 0) => {
                format!("/Applications/Synth.app/Contents/MacOS/{word}app")
            }
            (OsFlavor::MacX86 | OsFlavor::MacArm64, _) => {
                format!("/usr/lib/lib{word}{index}.dylib")
            }
            (OsFlavor::WindowsArm64, 0) => format!(r"C:\Program Files\Synth\{word}app.exe"),
            (OsFlavor::WindowsArm64, _) => format!(r"C:\Program Files\Synth\{word}{index}.dll"),
            (OsFlavor::AndroidArm64, index) => android_module_path(word, index),
        }
    }

    /// Name of unloaded module `index`; distinct from every loaded module.
    pub fn unloaded_module_path(&mut self, rng: &mut ChaCha8Rng, index: usize) -> String {
        let word = pick(rng, WORDS);
        match self.os {
            OsFlavor::Linux => format!("/usr/lib/x86_64-linux-gnu/libgone{word}{index}.so"),
            OsFlavor::Windows => format!(r"C:\Windows\System32\gone{word}{index}.dll"),
            OsFlavor::Mac => format!("/usr/lib/libgone{word}{index}.dylib"),
            OsFlavor::WindowsX86 => format!(r"C:\Windows\SysWOW64\gone{word}{index}.dll"),
            OsFlavor::WindowsArm64 => format!(r"C:\Windows\System32\gone{word}{index}.dll"),
            OsFlavor::LinuxX86 => format!("/usr/lib/i386-linux-gnu/libgone{word}{index}.so"),
            OsFlavor::LinuxArm64 => format!("/usr/lib/aarch64-linux-gnu/libgone{word}{index}.so"),
            OsFlavor::AndroidArm64 => format!("/system/lib64/libgone{word}{index}.so"),
            OsFlavor::MacX86 | OsFlavor::MacArm64 => format!("/usr/lib/libgone{word}{index}.dylib"),
        }
    }

    /// The PDB name recorded for a Windows module (`foo.dll` -> `foo.pdb`).
    pub fn pdb_name(&self, code_file: &str) -> String {
        let leaf = crate::ids::basename(code_file);
        let stem = leaf.rsplit_once('.').map_or(leaf, |(stem, _)| stem);
        format!("{stem}.pdb")
    }

    /// A namespace shared by one module's functions.
    pub fn namespace(&mut self, rng: &mut ChaCha8Rng) -> String {
        format!("{}::{}", pick(rng, WORDS), pick(rng, WORDS))
    }

    /// A source file path for a module.
    pub fn source_file(&mut self, rng: &mut ChaCha8Rng, code_file: &str) -> String {
        let module = crate::ids::basename(code_file)
            .split('.')
            .next()
            .unwrap_or("module")
            .to_string();
        let id = self.next_id();
        let word = pick(rng, WORDS);
        let ext = if rng.random_bool(0.5) { "rs" } else { "cpp" };
        match self.os {
            os if os.is_windows() => format!(r"c:\build\src\{module}\{word}_{id}.{ext}"),
            _ => format!("/build/src/{module}/{word}_{id}.{ext}"),
        }
    }

    /// A function name: C++ with an argument list, or a Rust path.
    pub fn function(&mut self, rng: &mut ChaCha8Rng, namespace: &str) -> String {
        let id = self.next_id();
        let ty = pick(rng, TYPES);
        let verb = pick(rng, VERBS);
        if rng.random_bool(0.5) {
            let args: Vec<&str> = (0..rng.random_range(0..3))
                .map(|_| pick(rng, ARGS))
                .collect();
            format!("{namespace}::{ty}::{verb}_{id}({})", args.join(", "))
        } else {
            format!("{namespace}::{ty}::{verb}_{id}")
        }
    }

    /// A PUBLIC symbol name (a mangled-looking or plain C export).
    pub fn public_symbol(&mut self, rng: &mut ChaCha8Rng) -> String {
        let id = self.next_id();
        let word = pick(rng, WORDS);
        if rng.random_bool(0.5) {
            format!("_ZN{}{word}{id}Ev", word.len())
        } else {
            format!("{word}_export_{id}")
        }
    }

    /// A thread name.
    pub fn thread_name(&mut self, rng: &mut ChaCha8Rng, index: usize) -> String {
        if index == 0 {
            return "main".to_string();
        }
        format!(
            "{} #{index}",
            pick(
                rng,
                &["Worker", "IPC I/O", "Timer", "DOM Worker", "Compositor"]
            )
        )
    }
}

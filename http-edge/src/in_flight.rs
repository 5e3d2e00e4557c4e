//! The memory budget shared by the requests a service is receiving and parsing at once.
//!
//! Per-request limits (a body cap, a decompression cap, item or part limits) keep one
//! request's memory bounded, but not the sum: a hundred clients each sending a body at the
//! limit would need tens of gigabytes. Every request therefore charges what it holds to one
//! [`InFlightBudget`] as it goes: the body as it arrives (before each piece is kept), the
//! decompressed body as it grows, and the copies parsing makes. The charge is a
//! [`RequestCharge`] that gives everything back when it is dropped, so a service holds it for
//! as long as the request's bytes live (until what was parsed is stored, say).
//!
//! A request that would need more than the whole budget is [`BudgetError::TooLarge`] (a
//! service answers 413: it can never fit); one that would fit but finds the budget in use by
//! others is [`BudgetError::Busy`] (503 with `Retry-After`, which is what Relay answers when
//! it is overloaded), instead of waiting while holding part of the budget. The messages name
//! no flag; each service adds its own knob's name when it answers.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB so that a `u32` permit count covers terabytes.
const UNIT: usize = 1024;

/// Why a request could not charge more to the budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("the request needs more than the in-flight memory budget of {budget} bytes")]
    TooLarge { budget: usize },
    #[error(
        "the in-flight memory budget of {budget} bytes is in use by other requests; \
         retry shortly"
    )]
    Busy { budget: usize },
}

/// The memory all in-flight requests may hold together.
#[derive(Debug, Clone)]
pub struct InFlightBudget {
    semaphore: Arc<Semaphore>,
    units: usize,
}

impl InFlightBudget {
    /// A budget of `bytes`, rounded up to whole KiB (at least one).
    pub fn new(bytes: usize) -> Self {
        let units = bytes.div_ceil(UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: Arc::new(Semaphore::new(units)),
            units,
        }
    }

    /// The budget in bytes.
    pub fn total(&self) -> usize {
        self.units * UNIT
    }

    /// Bytes charged by requests in flight right now.
    pub fn in_use(&self) -> usize {
        (self.units - self.semaphore.available_permits()) * UNIT
    }

    /// A new request's charge, empty until it charges something.
    pub fn charge(&self) -> RequestCharge {
        RequestCharge {
            budget: Some(self.clone()),
            held: Mutex::new(Held::default()),
        }
    }
}

#[derive(Debug, Default)]
struct Held {
    bytes: usize,
    permit: Option<OwnedSemaphorePermit>,
}

/// What one request has charged to the budget; dropping it gives it all back.
#[derive(Debug, Default)]
pub struct RequestCharge {
    /// `None`: not accounted (work done outside a server, as in benchmarks and tests).
    budget: Option<InFlightBudget>,
    held: Mutex<Held>,
}

impl RequestCharge {
    /// A charge that accounts nothing.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Charges `bytes` more; on failure nothing more is charged (what was charged stays until
    /// the request is dropped).
    pub fn add(&self, bytes: usize) -> Result<(), BudgetError> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let bytes_after = held.bytes.saturating_add(bytes);
        let units_after = bytes_after.div_ceil(UNIT);
        let units_held = held.permit.as_ref().map_or(0, |p| p.num_permits());
        if units_after > budget.units {
            return Err(BudgetError::TooLarge {
                budget: budget.total(),
            });
        }
        let more = units_after - units_held;
        if more > 0 {
            let more = u32::try_from(more).map_err(|_| BudgetError::TooLarge {
                budget: budget.total(),
            })?;
            let permit = budget
                .semaphore
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| BudgetError::Busy {
                    budget: budget.total(),
                })?;
            match &mut held.permit {
                Some(existing) => existing.merge(permit),
                None => held.permit = Some(permit),
            }
        }
        held.bytes = bytes_after;
        Ok(())
    }

    /// Bytes this request has charged.
    pub fn bytes(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_add_up_and_come_back_on_drop() {
        let budget = InFlightBudget::new(10 * UNIT);
        let first = budget.charge();
        first.add(3 * UNIT).unwrap();
        // Byte-sized charges round up to whole KiB in total, not each.
        first.add(100).unwrap();
        first.add(100).unwrap();
        assert_eq!(first.bytes(), 3 * UNIT + 200);
        assert_eq!(budget.in_use(), 4 * UNIT);
        let second = budget.charge();
        second.add(6 * UNIT).unwrap();
        assert_eq!(second.add(1), Err(BudgetError::Busy { budget: 10 * UNIT }));
        assert_eq!(second.bytes(), 6 * UNIT, "a refused charge adds nothing");
        drop(first);
        assert_eq!(budget.in_use(), 6 * UNIT);
        second.add(4 * UNIT).unwrap();
        drop(second);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn more_than_the_whole_budget_is_too_large_even_when_idle() {
        let budget = InFlightBudget::new(10 * UNIT);
        let charge = budget.charge();
        charge.add(8 * UNIT).unwrap();
        assert_eq!(
            charge.add(3 * UNIT),
            Err(BudgetError::TooLarge { budget: 10 * UNIT })
        );
        assert_eq!(budget.in_use(), 8 * UNIT);
    }

    #[test]
    fn an_unlimited_charge_accounts_nothing() {
        let charge = RequestCharge::unlimited();
        charge.add(usize::MAX).unwrap();
        assert_eq!(charge.bytes(), 0);
    }

    #[test]
    fn clones_share_one_budget() {
        let budget = InFlightBudget::new(4 * UNIT);
        let other = budget.clone();
        let held = other.charge();
        held.add(4 * UNIT).unwrap();
        assert_eq!(budget.in_use(), 4 * UNIT);
        assert_eq!(
            budget.charge().add(1),
            Err(BudgetError::Busy { budget: 4 * UNIT })
        );
        drop(held);
        budget.charge().add(4 * UNIT).unwrap();
    }
}

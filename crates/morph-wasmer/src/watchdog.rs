//! Wall-clock deadlines: one process-wide watchdog thread interrupts late guests.
//!
//! Each guest call that enters wasm [`arm`]s its store's interrupter with the call's
//! deadline and disarms it on return (the [`Armed`] guard). The watchdog thread sleeps
//! until the earliest deadline, interrupts every store that is past its deadline, and
//! interrupts it again (after 10 ms, then backing off) until the call returns: wasmer's
//! host interrupt is best effort (it is lost when the signal lands just before the
//! thread enters wasm).
//!
//! Arming costs an uncontended mutex and, only when the new deadline is the earliest,
//! a wake-up of the watchdog; nothing is spawned per call. The thread starts on first
//! use and lives as long as the process, asleep when no call is running.

use std::time::Instant;

#[cfg(all(unix, feature = "host-interrupt"))]
pub(crate) use imp::{Armed, Interrupter, arm};

#[cfg(all(unix, feature = "host-interrupt"))]
mod imp {
    use std::collections::HashMap;
    use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
    use std::time::{Duration, Instant};

    /// How soon a late store is interrupted again if its call has not returned; doubled
    /// after each try up to [`MAX_RETRY`]. The signal interrupts blocking system calls of
    /// a host function that overruns the deadline, so it is not repeated too eagerly.
    const RETRY: Duration = Duration::from_millis(10);
    const MAX_RETRY: Duration = Duration::from_millis(160);

    /// What interrupts one store.
    pub(crate) type Interrupter = wasmer::Interrupter;

    struct Entry {
        next: Instant,
        retry: Duration,
        interrupter: Interrupter,
    }

    #[derive(Default)]
    struct Queue {
        next_id: u64,
        entries: HashMap<u64, Entry>,
        /// When the thread will wake next, if it sleeps with a timeout.
        wake_at: Option<Instant>,
    }

    struct Watchdog {
        queue: Mutex<Queue>,
        wake: Condvar,
    }

    impl Watchdog {
        fn lock(&self) -> MutexGuard<'_, Queue> {
            // The lock is never held across anything that panics; recover if it was.
            self.queue.lock().unwrap_or_else(|e| e.into_inner())
        }

        fn run(&self) {
            let mut q = self.lock();
            loop {
                let now = Instant::now();
                let mut earliest: Option<Instant> = None;
                for entry in q.entries.values_mut() {
                    if entry.next <= now {
                        entry.interrupter.interrupt();
                        entry.next = now + entry.retry;
                        entry.retry = (entry.retry * 2).min(MAX_RETRY);
                    }
                    earliest = Some(earliest.map_or(entry.next, |e| e.min(entry.next)));
                }
                q.wake_at = earliest;
                q = match earliest {
                    Some(at) => {
                        let timeout = at.saturating_duration_since(Instant::now());
                        self.wake
                            .wait_timeout(q, timeout)
                            .map(|(q, _)| q)
                            .unwrap_or_else(|e| e.into_inner().0)
                    }
                    None => self.wake.wait(q).unwrap_or_else(|e| e.into_inner()),
                };
            }
        }
    }

    fn watchdog() -> Option<&'static Watchdog> {
        static WATCHDOG: OnceLock<Option<&'static Watchdog>> = OnceLock::new();
        *WATCHDOG.get_or_init(|| {
            let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
                queue: Mutex::new(Queue::default()),
                wake: Condvar::new(),
            }));
            match std::thread::Builder::new()
                .name("morph-wasmer-watchdog".into())
                .spawn(move || dog.run())
            {
                Ok(_) => Some(dog),
                Err(e) => {
                    tracing::warn!(
                        "could not start the wasmer watchdog; wall-clock deadlines are off: {e}"
                    );
                    None
                }
            }
        })
    }

    /// A call being watched; disarms on drop.
    pub(crate) struct Armed {
        id: Option<u64>,
    }

    impl Drop for Armed {
        fn drop(&mut self) {
            if let (Some(id), Some(dog)) = (self.id, watchdog()) {
                dog.lock().entries.remove(&id);
            }
        }
    }

    /// Interrupts the store of `interrupter` at `deadline` (and again until the call
    /// returns) until the returned guard is dropped.
    pub(crate) fn arm(interrupter: &Interrupter, deadline: Instant) -> Armed {
        let Some(dog) = watchdog() else {
            return Armed { id: None };
        };
        let mut q = dog.lock();
        let id = q.next_id;
        q.next_id += 1;
        q.entries.insert(
            id,
            Entry {
                next: deadline,
                retry: RETRY,
                interrupter: interrupter.clone(),
            },
        );
        if q.wake_at.is_none_or(|at| deadline < at) {
            q.wake_at = Some(deadline);
            dog.wake.notify_one();
        }
        Armed { id: Some(id) }
    }
}

#[cfg(not(all(unix, feature = "host-interrupt")))]
mod imp {
    //! Without wasmer's host interrupt (unix only, feature `host-interrupt`) deadlines
    //! are not enforced; fuel is the only bound.

    use std::time::Instant;

    pub(crate) struct Interrupter;
    pub(crate) struct Armed;

    pub(crate) fn arm(_: &Interrupter, _: Instant) -> Armed {
        Armed
    }
}

#[cfg(not(all(unix, feature = "host-interrupt")))]
pub(crate) use imp::{Armed, Interrupter, arm};

/// The interrupter of a store.
#[cfg(all(unix, feature = "host-interrupt"))]
pub(crate) fn interrupter(store: &wasmer::Store) -> Interrupter {
    store.interrupter()
}

/// The interrupter of a store.
#[cfg(not(all(unix, feature = "host-interrupt")))]
pub(crate) fn interrupter(_: &wasmer::Store) -> Interrupter {
    Interrupter
}

/// Whether `deadline` has passed.
pub(crate) fn past(deadline: Instant) -> bool {
    Instant::now() >= deadline
}

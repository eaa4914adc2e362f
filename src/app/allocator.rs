//! Settings of the allocator (mimalloc, chosen in `main.rs`), made first thing in `main`.
//!
//! By default mimalloc commits its arenas eagerly and hands freed pages back to the system
//! after a delay; with 100,000 clients that held the service at about 140 MB after start
//! where glibc's malloc held 72-80 MB. Without eager commit and with immediate purging it
//! holds 65-71 MB, and peaks at about 115 MB under reads of every client (bench/RESULTS.md).
//! Eager commit is read when the first arena is made, before `main`, so it is set where
//! mimalloc is compiled (`.cargo/config.toml`); it is set here too, for later arenas.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_arena_eager_commit` in the bundled mimalloc 3 (`mimalloc.h`; the sys crate
/// names only older options).
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay` in the bundled mimalloc 3 (milliseconds; 0 purges at once; its
/// default there is 1000, `options.c`).
const PURGE_DELAY: mi_option_t = 15;

/// Commits arena memory as it is used and returns freed pages at once.
pub fn return_memory_promptly() {
    // SAFETY: plain setters of mimalloc's global options, valid at any time.
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    /// The two options' current values.
    fn current() -> (i64, i64) {
        // SAFETY: plain getters of mimalloc's global options.
        unsafe {
            (
                libmimalloc_sys::mi_option_get(super::ARENA_EAGER_COMMIT) as i64,
                libmimalloc_sys::mi_option_get(super::PURGE_DELAY) as i64,
            )
        }
    }

    /// The option numbers are those of the bundled mimalloc: they read its defaults before
    /// they are set (`options.c`: purge delay 1000 ms; eager commit 0, from the build's
    /// `MI_DEFAULT_ARENA_EAGER_COMMIT` in `.cargo/config.toml`, where mimalloc's own is 2).
    #[test]
    fn the_option_numbers_name_the_intended_options() {
        assert_eq!(current(), (0, 1000));
        super::return_memory_promptly();
        assert_eq!(current(), (0, 0));
    }
}

//! SIGTERM and SIGINT (systemd stopping the unit, Ctrl-C on `--force`): the
//! handler only notes the signal; the run sees it at its next step, stops
//! probing, kills what it started, stores what it has and says why.

use std::sync::atomic::{AtomicI32, Ordering};

static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn note(signal: libc::c_int) {
    // Only an atomic store: all a signal handler may safely do.
    STOPPED_BY.store(signal, Ordering::SeqCst);
}

/// Installs the handler for SIGTERM and SIGINT.
pub fn install() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: `note` is async-signal-safe (one atomic store), and the
        // sigaction struct is fully initialised before the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The signal that asked upcheck to stop, if one did.
pub fn stopped() -> Option<Stopped> {
    match STOPPED_BY.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(Stopped(signal)),
    }
}

/// Sleeps `d`, waking within 100 ms of a signal; false if one stopped it.
pub fn sleep(d: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + d;
    loop {
        if stopped().is_some() {
            return false;
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
    }
}

/// A run stopped by a signal: not a failure to page anyone about; exits
/// 128 + the signal, as a shell reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stopped(pub i32);

impl Stopped {
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::SIGTERM => "SIGTERM",
            libc::SIGINT => "SIGINT",
            _ => "a signal",
        }
    }

    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(1)
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped by {}", self.name())
    }
}

impl std::error::Error for Stopped {}

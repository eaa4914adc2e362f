//! Telling systemd (`Type=notify`) that the service is ready or stopping. Without
//! `NOTIFY_SOCKET` (not run by systemd) these do nothing.

use sd_notify::NotifyState;

fn notify(state: NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(false, &[state]) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}

/// The service is up (for `serve`: the port is open).
pub fn ready() {
    notify(NotifyState::Ready);
}

/// The service is shutting down.
pub fn stopping() {
    notify(NotifyState::Stopping);
}

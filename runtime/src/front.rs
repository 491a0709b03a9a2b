//! The HTTP front's own bounds and access policy as plain data: object name length, header-read,
//! body-read and keep-alive timeouts, the connection cap, the drain deadline, the per-socket send queue in
//! bytes, who may use the admin routes and which Host names are answered. Defaults are chosen so
//! that the suite's own loopback load (tens of thousands of sockets, 100,000 objects) never meets
//! them. Holds no state and does no I/O beyond reading the process's open-files limit once.

use std::time::Duration;

use crate::error::Error;

/// Who may call the state-changing `/_dobench/` routes (fault injection such as `stall`).
#[derive(Clone, PartialEq, Eq)]
pub struct AdminAccess {
    /// `serve --admin`: open without the token on a loopback bind (never on another bind).
    pub open: bool,
    /// Sent as `Authorization: Bearer <token>`; always accepted. Random unless set.
    pub token: String,
}

impl std::fmt::Debug for AdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never in logs or panics.
        f.debug_struct("AdminAccess")
            .field("open", &self.open)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AdminAccess {
    /// Closed, with a fresh random token (64 hex characters).
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        AdminAccess {
            open: false,
            token: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Everything the HTTP front bounds or checks, with the defaults `dobench serve` states.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    /// Longest object name in bytes (after percent-decoding); longer is refused 414 before
    /// anything is created.
    pub max_name_bytes: usize,
    /// A request's headers must arrive within this long of their first byte (slowloris).
    pub header_read_timeout: Duration,
    /// A request's body must have arrived within this long of its head (else 408).
    pub body_read_timeout: Duration,
    /// An HTTP connection with no request for this long is closed. WebSockets are never
    /// closed for being idle (hibernation handles them).
    pub keep_alive_timeout: Duration,
    /// Open connections (HTTP and WebSocket) per server; past it a new one gets 503 and is
    /// closed.
    pub max_connections: usize,
    /// After the shutdown signal: how long in-flight requests and queued turns may take
    /// before everything left is dropped.
    pub drain_deadline: Duration,
    /// Bytes queued for one WebSocket before its consumer counts as fallen behind and is
    /// closed 1008.
    pub ws_send_queue_bytes: usize,
    /// Access to the state-changing admin routes.
    pub admin: AdminAccess,
    /// Host names answered besides `localhost`, `127.0.0.1`, `[::1]` and the bound address.
    pub allowed_hosts: Vec<String>,
}

impl FrontConfig {
    /// Default object name limit (bytes), as production's idFromName keys are kept short.
    pub const DEFAULT_MAX_NAME_BYTES: usize = 2_048;
    /// Default header-read timeout.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default body-read timeout.
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default keep-alive idle timeout.
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default drain deadline after SIGTERM.
    pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(10);
    /// Default per-socket send queue (bytes).
    pub const DEFAULT_WS_SEND_QUEUE_BYTES: usize = crate::limits::DEFAULT_SEND_QUEUE_BYTES;
    /// File descriptors kept back from the connection cap for storage, logs and the process
    /// (a quarter of a smaller limit).
    pub const FD_RESERVE: usize = 1_024;
    /// The connection cap where the open-files limit cannot be read.
    pub const FALLBACK_MAX_CONNECTIONS: usize = 65_536;

    /// The default connection cap: the process's soft open-files limit minus
    /// [`Self::FD_RESERVE`] or a quarter of the limit, whichever is less (at least 64), so the
    /// server refuses a connection with a 503 before the kernel refuses it a file descriptor;
    /// 65,536 where the limit is unknown.
    pub fn default_max_connections() -> usize {
        match soft_open_files_limit() {
            Some(n) => n.saturating_sub(Self::FD_RESERVE.min(n / 4)).max(64),
            None => Self::FALLBACK_MAX_CONNECTIONS,
        }
    }

    /// Refuses values the front cannot honour.
    pub fn validate(&self) -> Result<(), Error> {
        let zero = |what: &str| Err(Error::Config(format!("{what} must be above zero")));
        if self.max_name_bytes == 0 {
            return zero("the object name limit");
        }
        if self.header_read_timeout.is_zero() {
            return zero("the header-read timeout");
        }
        if self.body_read_timeout.is_zero() {
            return zero("the body-read timeout");
        }
        if self.keep_alive_timeout.is_zero() {
            return zero("the keep-alive timeout");
        }
        if self.max_connections == 0 {
            return zero("the connection cap");
        }
        if self.ws_send_queue_bytes == 0 {
            return zero("the WebSocket send queue");
        }
        if self.admin.token.len() < 16 {
            return Err(Error::Config(
                "the admin token must be at least 16 characters".into(),
            ));
        }
        Ok(())
    }
}

impl Default for FrontConfig {
    fn default() -> Self {
        FrontConfig {
            max_name_bytes: Self::DEFAULT_MAX_NAME_BYTES,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
            keep_alive_timeout: Self::DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: Self::default_max_connections(),
            drain_deadline: Self::DEFAULT_DRAIN_DEADLINE,
            ws_send_queue_bytes: Self::DEFAULT_WS_SEND_QUEUE_BYTES,
            admin: AdminAccess::random(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// The soft `Max open files` limit from `/proc/self/limits` (Linux), if readable and finite.
fn soft_open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_hide_the_token() {
        let f = FrontConfig::default();
        f.validate().unwrap();
        assert_eq!(f.admin.token.len(), 64);
        assert!(!format!("{f:?}").contains(&f.admin.token));
        assert!(f.max_connections >= 64);
        let mut bad = f.clone();
        bad.max_name_bytes = 0;
        assert!(bad.validate().unwrap_err().to_string().contains("name"));
    }
}

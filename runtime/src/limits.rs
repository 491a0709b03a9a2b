//! Production limits the runtime enforces where they matter to a benchmark, in one place.
//! Values follow today's Durable Objects (the attachment limit went from 2,048 to 16,384
//! bytes in February 2026). Breaking one is a clear error naming the limit, never a crash.

/// Distinct tags per accepted WebSocket.
pub const MAX_TAGS: usize = 10;
/// Characters per tag.
pub const MAX_TAG_CHARS: usize = 256;
/// Bytes of a serialized WebSocket attachment (default; `--attachment-limit` emulates the
/// older 2,048).
pub const DEFAULT_ATTACHMENT_BYTES: usize = 16_384;
/// The attachment limit before February 2026.
pub const LEGACY_ATTACHMENT_BYTES: usize = 2_048;
/// WebSockets one object may hold.
pub const MAX_SOCKETS_PER_OBJECT: usize = 32_768;
/// Bytes of each side of an auto-response pair.
pub const MAX_AUTO_RESPONSE_BYTES: usize = 2_048;
/// Frames queued for one socket before its consumer counts as fallen behind and is closed.
pub const DEFAULT_SEND_BUFFER_FRAMES: usize = 1024;
/// Bytes queued for one socket before its consumer counts as fallen behind and is closed
/// 1008 (`serve --ws-send-queue`). A single frame larger than this still goes out when the
/// queue is empty.
pub const DEFAULT_SEND_QUEUE_BYTES: usize = 1 << 20;
/// Read buffer per WebSocket connection (bytes); small so idle sockets stay cheap: 10,000
/// hibernated sockets cost 10.9 KiB each with 4 KiB buffers, 7.8 KiB with 1 KiB
/// (benches/examples/idle_sockets.rs). Larger frames are read in several chunks.
pub const WS_READ_BUFFER_BYTES: usize = 1024;

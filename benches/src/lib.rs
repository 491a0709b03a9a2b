//! Benchmarks of dobench's hot paths live in `benches/` (criterion) and in the shell scripts
//! beside them; this library is intentionally empty.

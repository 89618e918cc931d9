//! A value alone on its cache lines.

/// Keeps `T` on cache lines of its own (128 bytes: two 64-byte lines, as adjacent-line
/// prefetchers fetch them in pairs), so that state written on one core per request (a lock, a
/// counter) does not share a line with state written on another core: each write would
/// otherwise take the line from the other core, a round trip between the cores' caches.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

//! SQL the printer pages need beyond the core repositories (more `impl` blocks on them, or new ones).

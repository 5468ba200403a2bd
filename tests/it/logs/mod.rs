//! `campctl logs`.

mod workspace;

//! [`Secret`]: a string that is never printed. `Debug`, `Display` and `Serialize` all show `********`, so a password
//! can sit in [`ConnParams`](super::ConnParams) and travel through `config show`, logs and JSON reports safely.
//!
//! It must never gain a way to print or serialize its value: the one reader is [`Secret::expose`], for the places
//! that authenticate or set a child's environment.

use std::fmt;

use serde::Serialize;

/// A value that must never be printed: `Debug` and `Display` show `********`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (authentication, a child's environment).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("********")
    }
}

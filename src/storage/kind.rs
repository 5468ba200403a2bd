//! [`StoreKind`]: the two kinds of store, as `--store`, `[backup] stores` and a store's label name them.
//!
//! A value type only: which stores are configured is `Store::from_config`'s business, and which of them a run uses
//! is `catalog::select_stores`'. It must never read configuration.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::exit::UserError;

/// `local` or `azure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Local,
    Azure,
}

impl StoreKind {
    /// `--store` values (repeatable) as kinds.
    ///
    /// # Errors
    /// A name that is not a kind of store (exit 2).
    pub fn parse_all(names: &[String]) -> Result<Vec<Self>, UserError> {
        names.iter().map(|name| name.parse()).collect()
    }

    /// The name as written: `local` or `azure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Azure => "azure",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreKind {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "local" => Ok(Self::Local),
            "azure" => Ok(Self::Azure),
            other => Err(
                UserError::usage(format!("Unknown store `{other}`: a store is `local` or `azure`"))
                    .with_hint("Configure it under `[storage.local]` or `[storage.azure]` (docs/storage.md)"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for kind in [StoreKind::Local, StoreKind::Azure] {
            assert_eq!(kind.as_str().parse::<StoreKind>().ok(), Some(kind));
        }
        assert!("s3".parse::<StoreKind>().is_err());
    }
}

//! [`FileValue`]: a typed value of `campctl.toml` kept with where it was written.
//!
//! The file is read in one piece, and `config check` must still report every bad value of every section, so a value
//! that does not parse does not fail the whole file: it is kept as written with its position, and the first use of
//! it ([`LoadedConfig::value`], called while settings are resolved, before any command runs) refuses it naming
//! the file, the line and the key. A value of the wrong TOML type (a number for a string) still fails the loader,
//! which names the line itself. This must never decide a default or read anything but the file's own text.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigError, LoadedConfig};
use crate::exit::UserError;

/// A value of type `T` as written in the file (its text parsed with `T::from_str`: a string without its quotes,
/// a number as written), or why it does not parse.
#[derive(Clone)]
pub struct FileValue<T> {
    /// The value as TOML has it, for messages (`"zstd:99"`, `0`) and `config show`.
    raw: toml::Value,
    /// The text parsed (a string without quotes).
    text: String,
    /// Byte range of the value in the file's text.
    span: Range<usize>,
    parsed: Result<T, (String, Option<String>)>,
}

impl<T: fmt::Debug> fmt::Debug for FileValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parsed {
            Ok(value) => value.fmt(f),
            Err(_) => write!(f, "invalid({:?})", self.text),
        }
    }
}

impl<T> FileValue<T> {
    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl<T: Clone> FileValue<T> {
    /// The parsed value, or its error (without the file's name and line: see [`LoadedConfig::value`]).
    ///
    /// # Errors
    /// The text does not parse as `T`.
    pub fn parsed(&self) -> Result<T, UserError> {
        self.parsed.clone().map_err(|(message, hint)| {
            let error = UserError::usage(message);
            match hint {
                Some(hint) => error.with_hint(hint),
                None => error,
            }
        })
    }
}

impl<'de, T> Deserialize<'de> for FileValue<T>
where
    T: FromStr<Err = UserError>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<toml::Value>::deserialize(deserializer)?;
        let span = spanned.span();
        let raw = spanned.into_inner();
        let text = match &raw {
            toml::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let parsed = text.parse::<T>().map_err(|error| (error.message, error.hint));
        Ok(Self {
            raw,
            text,
            span,
            parsed,
        })
    }
}

impl<T> Serialize for FileValue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

/// Where a value that does not parse was written, and why it does not ([`ConfigError::Value`]).
#[derive(Debug)]
pub struct BadValue {
    pub path: std::path::PathBuf,
    /// 1-based.
    pub line: usize,
    /// `[backup] compression`.
    pub key: String,
    /// The value as written in TOML (`"zstd:99"`, `0`).
    pub text: String,
    pub message: String,
    pub hint: Option<String>,
}

impl LoadedConfig {
    /// The value of `key` (e.g. `[backup] compression`) parsed, or an error naming the file, the line and the key.
    ///
    /// # Errors
    /// The value as written does not parse (exit 2).
    pub fn value<T: Clone>(&self, key: &str, value: Option<&FileValue<T>>) -> Result<Option<T>, ConfigError> {
        value.map(|value| self.parse(key, value)).transpose()
    }

    /// Each value of the list `key` parsed, or an error naming the file, the line and the key of the first bad one.
    ///
    /// # Errors
    /// A value as written does not parse (exit 2).
    pub fn values<T: Clone>(
        &self,
        key: &str,
        values: Option<&Vec<FileValue<T>>>,
    ) -> Result<Option<Vec<T>>, ConfigError> {
        values
            .map(|values| values.iter().map(|value| self.parse(key, value)).collect())
            .transpose()
    }

    fn parse<T: Clone>(&self, key: &str, value: &FileValue<T>) -> Result<T, ConfigError> {
        value.parsed().map_err(|error| {
            ConfigError::Value(Box::new(BadValue {
                path: self.path.clone().unwrap_or_default(),
                line: self.line_of(value.span.start),
                key: key.to_string(),
                text: value.raw.to_string(),
                message: error.message,
                hint: error.hint,
            }))
        })
    }

    /// Where `key` of the table `table` (e.g. `storage.local`, `path`) is written, as `` `FILE` line N ``: in the
    /// selected profile's table when it sets the key (it wins), else at the top level. `None` without a file or
    /// when the key is not written as `key = ...` under that table's header.
    pub fn origin_of(&self, table: &str, key: &str) -> Option<String> {
        let path = self.path.as_ref()?;
        let text = self.text.as_deref()?;
        let in_profile = self.profile.as_ref().map(|name| format!("profiles.{name}.{table}"));
        let (mut header, mut top, mut profile) = (String::new(), None, None);
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
                header = name.trim().to_string();
                continue;
            }
            let is_key = line
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='));
            if !is_key {
                continue;
            }
            if header == table && top.is_none() {
                top = Some(index + 1);
            } else if in_profile.as_deref() == Some(header.as_str()) && profile.is_none() {
                profile = Some(index + 1);
            }
        }
        profile.or(top).map(|line| format!("`{}` line {line}", path.display()))
    }

    /// The 1-based line of a byte offset in the file's text.
    fn line_of(&self, offset: usize) -> usize {
        let text = self.text.as_deref().unwrap_or_default();
        text.get(..offset).map_or(0, |before| before.matches('\n').count()) + 1
    }
}

#[cfg(test)]
mod tests {
    use crate::config_file::load;

    #[test]
    fn item_13_the_origin_of_a_key_is_its_file_and_line_in_the_profile_that_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        fs_err::write(
            &path,
            "[storage.local]\npath = \"backups\"\n\n[profiles.prod.storage.local]\npath = \"\"\n",
        )
        .expect("write");
        let top = load(Some(&path), &[], None).expect("the file loads");
        assert_eq!(
            top.origin_of("storage.local", "path"),
            Some(format!("`{}` line 2", path.display()))
        );
        let prod = load(Some(&path), &[], Some("prod")).expect("the file loads");
        assert_eq!(
            prod.origin_of("storage.local", "path"),
            Some(format!("`{}` line 5", path.display()))
        );
        assert_eq!(top.origin_of("storage.azure", "path"), None);
    }
    use crate::dump_options::Compression;

    #[test]
    fn a_bad_value_names_the_file_line_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        fs_err::write(&path, "[backup]\n\ncompression = \"zstd:99\"\n").expect("write");
        let loaded = load(Some(&path), &[], None).expect("the file loads");
        let error = loaded
            .value("[backup] compression", loaded.sections.backup.compression.as_ref())
            .expect_err("bad value");
        let text = error.to_string();
        for needle in [
            path.display().to_string().as_str(),
            "line 3",
            "`[backup] compression = \"zstd:99\"`",
        ] {
            assert!(text.contains(needle), "`{needle}` missing from {text}");
        }
        fs_err::write(&path, "[backup]\ncompression = \"gzip:3\"\n").expect("write");
        let loaded = load(Some(&path), &[], None).expect("the file loads");
        let value = loaded.value("[backup] compression", loaded.sections.backup.compression.as_ref());
        assert_eq!(value.ok().flatten(), Some(Compression::Gzip(3)));
    }

    #[test]
    fn a_profile_value_names_its_own_line_and_numbers_parse_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        fs_err::write(
            &path,
            "[restore]\njobs = 2\n\n[profiles.prod.restore]\njobs = 0\n[profiles.prod.backup]\ncompression = \"x\"\n",
        )
        .expect("write");
        let base = load(Some(&path), &[], None).expect("the file loads");
        let jobs = base.value("[restore] jobs", base.sections.restore.jobs.as_ref());
        assert_eq!(jobs.ok().flatten(), Some(crate::dump_options::Jobs(2)));
        let prod = load(Some(&path), &[], Some("prod")).expect("the file loads");
        let error = prod
            .value("[restore] jobs", prod.sections.restore.jobs.as_ref())
            .expect_err("out of range")
            .to_string();
        assert!(
            error.contains("`[restore] jobs = 0`") && error.contains("line 5"),
            "{error}"
        );
        let error = prod
            .value("[backup] compression", prod.sections.backup.compression.as_ref())
            .expect_err("bad compression")
            .to_string();
        assert!(error.contains("line 7"), "{error}");
    }
}

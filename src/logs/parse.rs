//! One JSON line to the fields the reports need, without building a whole `serde_json::Value`: a map visitor that
//! keeps the configured keys (borrowed when the JSON string has no escapes) and skips every other value.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fields::{Fields, TimeFormat};
use super::model::Record;

/// A scalar JSON value of interest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    /// null, a boolean, an object or an array.
    Other,
}

impl Scalar<'_> {
    fn text(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value as a string (numbers in their JSON form), for user and IP fields that may be numbers.
    fn into_string(self) -> Option<String> {
        match self {
            Self::Str(text) => Some(text.into_owned()),
            Self::Num(number) => Some(number.to_string()),
            Self::Other => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Self::Num(number) => Some(*number),
            Self::Str(text) => text.trim().parse().ok(),
            Self::Other => None,
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

impl<'de> serde::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// The fields of one line, borrowed from it where possible.
#[derive(Debug, Default)]
pub(crate) struct Line<'a> {
    pub time: Option<Scalar<'a>>,
    pub level: Option<Scalar<'a>>,
    pub event: Option<Scalar<'a>>,
    pub message: Option<Scalar<'a>>,
    pub user: Option<Scalar<'a>>,
    pub ip: Option<Scalar<'a>>,
    pub path: Option<Scalar<'a>>,
    pub status: Option<Scalar<'a>>,
    pub duration: Option<Scalar<'a>>,
}

struct LineSeed<'f>(&'f Fields);

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = Line<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = Line<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let fields = self.0;
        let mut line = Line::default();
        while let Some(key) = map.next_key::<Scalar<'de>>()? {
            let key: &str = key.text().unwrap_or_default();
            let slot = if key == fields.timestamp {
                &mut line.time
            } else if key == fields.level {
                &mut line.level
            } else if fields.message.as_deref().map_or(key == "event", |name| key == name) {
                &mut line.event
            } else if fields.message.is_none() && key == "message" {
                &mut line.message
            } else if key == fields.user {
                &mut line.user
            } else if key == fields.ip {
                &mut line.ip
            } else if key == fields.path {
                &mut line.path
            } else if key == fields.status {
                &mut line.status
            } else if key == fields.duration {
                &mut line.duration
            } else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            *slot = Some(map.next_value::<Scalar<'de>>()?);
        }
        Ok(line)
    }
}

/// A line the reports can use: the time parsed, the rest borrowed.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub time: DateTime<Utc>,
    pub line: Line<'a>,
}

impl Parsed<'_> {
    pub(crate) fn level(&self) -> Option<&str> {
        self.line.level.as_ref().and_then(Scalar::text)
    }

    /// The event, else the message.
    pub(crate) fn message(&self) -> Option<&str> {
        self.line
            .event
            .as_ref()
            .and_then(Scalar::text)
            .or_else(|| self.line.message.as_ref().and_then(Scalar::text))
    }

    pub(crate) fn path(&self) -> Option<&str> {
        self.line.path.as_ref().and_then(Scalar::text)
    }

    pub(crate) fn status(&self) -> Option<u16> {
        self.line
            .status
            .as_ref()
            .and_then(Scalar::number)
            .filter(|status| (0.0..=999.0).contains(status))
            .map(|status| status as u16)
    }

    pub(crate) fn duration_ms(&self, fields: &Fields) -> Option<f64> {
        self.line
            .duration
            .as_ref()
            .and_then(Scalar::number)
            .filter(|duration| duration.is_finite() && *duration >= 0.0)
            .map(|duration| duration * fields.duration_to_ms)
    }

    /// A request: a record with a status or a path.
    pub(crate) fn is_request(&self) -> bool {
        self.line.status.as_ref().is_some_and(|status| *status != Scalar::Other)
            || self.line.path.as_ref().is_some_and(|path| *path != Scalar::Other)
    }

    pub(crate) fn user(&self) -> Option<String> {
        self.line.user.clone().and_then(Scalar::into_string)
    }

    pub(crate) fn ip(&self) -> Option<String> {
        self.line.ip.clone().and_then(Scalar::into_string)
    }

    pub(crate) fn into_record(self, fields: &Fields) -> Record {
        Record {
            time: self.time,
            level: self.level().map(str::to_string),
            message: self.message().map(str::to_string),
            user: self.user(),
            ip: self.ip(),
            path: self.path().map(str::to_string),
            status: self.status(),
            duration_ms: self.duration_ms(fields),
        }
    }
}

/// Reads the time field.
fn time_of(value: &Scalar<'_>, format: TimeFormat) -> Option<DateTime<Utc>> {
    match format {
        TimeFormat::Rfc3339 => {
            let text = value.text()?;
            DateTime::parse_from_rfc3339(text.trim())
                .ok()
                .map(|time| time.with_timezone(&Utc))
        }
        TimeFormat::EpochSeconds => {
            let seconds = value.number()?;
            DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
        }
        TimeFormat::EpochMillis => {
            let millis = value.number()?;
            DateTime::from_timestamp_micros((millis * 1e3).round() as i64)
        }
    }
}

/// Parses one line; `None` when it is not a JSON object or has no valid time.
pub(crate) fn parse<'a>(text: &'a str, fields: &Fields) -> Option<Parsed<'a>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let line = LineSeed(fields).deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    let time = time_of(line.time.as_ref()?, fields.time_format)?;
    Some(Parsed { time, line })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields::resolve(None).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn a_structlog_line_is_read() {
        let fields = fields();
        let text = r#"{"timestamp":"2026-03-01T10:00:00.5+02:00","level":"error","event":"db \"down\"","user_email":"a@b","ip_address":"10.0.0.1","path":"/x","status":500,"duration":12.5,"extra":{"a":[1,2]}}"#;
        let parsed = parse(text, &fields).map(|parsed| parsed.into_record(&fields));
        let record = parsed.unwrap_or_else(|| unreachable!());
        assert_eq!(record.time.to_rfc3339(), "2026-03-01T08:00:00.500+00:00");
        assert_eq!(record.message.as_deref(), Some("db \"down\""));
        assert_eq!(record.status, Some(500));
        assert_eq!(record.duration_ms, Some(12.5));
        assert_eq!(record.user.as_deref(), Some("a@b"));
    }

    #[test]
    fn bad_lines_are_refused() {
        let fields = fields();
        assert!(parse("not json", &fields).is_none());
        assert!(parse(r#"{"level":"info"}"#, &fields).is_none());
        assert!(parse(r#"{"timestamp":"yesterday"}"#, &fields).is_none());
        assert!(parse(r#"{"timestamp":"2026-03-01T10:00:00Z"} x"#, &fields).is_none());
        assert!(parse(r#"{"timestamp":"2026-03-01T10:00:00Z"}"#, &fields).is_some());
    }
}

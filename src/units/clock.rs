//! A time of day (`03:00`) and a time zone name (`Asia/Tokyo`), as `[schedule]` in `campctl.toml` writes them.
//!
//! Both are only checked for their shape here: a zone name is passed on as written to cron (`CRON_TZ=`), systemd
//! (`OnCalendar=… ZONE`) and Kubernetes (`timeZone`), which look it up in the tz database of the machine that runs
//! the job, not of the one that writes the schedule.

use std::fmt;
use std::str::FromStr;

use crate::exit::UserError;

/// `HH:MM` on a 24-hour clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    #[must_use]
    pub const fn new(hour: u8, minute: u8) -> Self {
        Self { hour, minute }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl FromStr for TimeOfDay {
    type Err = UserError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = || {
            UserError::usage(format!("invalid time of day `{input}`"))
                .with_hint("Write it as HH:MM on a 24-hour clock, e.g. \"03:00\" or \"23:30\"")
        };
        let (hour, minute) = input.split_once(':').ok_or_else(bad)?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit());
        if !two_digits(hour) || !two_digits(minute) {
            return Err(bad());
        }
        let hour: u8 = hour.parse().map_err(|_| bad())?;
        let minute: u8 = minute.parse().map_err(|_| bad())?;
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(Self { hour, minute })
    }
}

/// An IANA time zone name (`Asia/Tokyo`, `UTC`, `America/Argentina/Buenos_Aires`), checked for its shape only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TimeZoneName {
    type Err = UserError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        // The characters of tz database names; no empty part, no `.`/`..` part, no leading `/` (an absolute path).
        let shaped = !input.is_empty()
            && input.len() <= 64
            && input.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'+' | b'.'))
            });
        if shaped {
            Ok(Self(input.to_string()))
        } else {
            Err(UserError::usage(format!("invalid time zone `{input}`"))
                .with_hint("Use an IANA zone name such as \"Asia/Tokyo\" or \"UTC\" (`timedatectl list-timezones`)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert_eq!("03:00".parse::<TimeOfDay>().ok(), Some(TimeOfDay::new(3, 0)));
        assert_eq!("23:59".parse::<TimeOfDay>().ok(), Some(TimeOfDay::new(23, 59)));
        for bad in [
            "3:00", "24:00", "12:60", "12", "12:00:00", "ab:cd", "", " 03:00", "+3:00",
        ] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
    }

    #[test]
    fn zone_names() {
        for good in ["UTC", "Asia/Tokyo", "America/Argentina/Buenos_Aires", "Etc/GMT+9"] {
            assert!(good.parse::<TimeZoneName>().is_ok(), "{good}");
        }
        for bad in ["", "/etc/localtime", "Asia//Tokyo", "../x", "Asia/Tokyo ", "a;b"] {
            assert!(bad.parse::<TimeZoneName>().is_err(), "{bad}");
        }
    }
}

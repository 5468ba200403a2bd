//! The three reports computed from records: one aggregate per worker (see `files.rs`), merged, then turned into
//! the report structs of `model.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::fields::{Fields, LogsSettings};
use super::files::Aggregate;
use super::model::{
    AuthFailureGroup, AuthFailuresReport, ErrorBin, ErrorsReport, LatencyReport, LatencyRow, MessageCount, Unparsed,
    View, Window,
};
use super::parse::Parsed;
use super::percentiles::{Distribution, Summary};

/// The bin index of `time` in `window`, when it is inside.
fn bin_index(window: &Window, time: DateTime<Utc>) -> Option<usize> {
    if !window.contains(time) {
        return None;
    }
    let first = window.bin_start(window.from).timestamp();
    usize::try_from((time.timestamp() - first) / window.bin_seconds as i64).ok()
}

/// Every bin start of the window.
fn bin_starts(window: &Window) -> Vec<DateTime<Utc>> {
    let mut starts = Vec::new();
    let mut start = window.bin_start(window.from);
    let step = chrono::Duration::seconds(window.bin_seconds as i64);
    while start < window.until {
        starts.push(start);
        start += step;
    }
    starts
}

/// `logs errors`, being counted.
pub(crate) struct Errors {
    window: Window,
    levels: Vec<String>,
    per_bin: Vec<u64>,
    requests: Vec<u64>,
    any_requests: bool,
    messages: HashMap<String, u64>,
}

impl Errors {
    pub(crate) fn new(window: &Window, settings: &LogsSettings) -> Self {
        let bins = bin_starts(window).len();
        Self {
            window: window.clone(),
            levels: settings.error_levels.clone(),
            per_bin: vec![0; bins],
            requests: vec![0; bins],
            any_requests: false,
            messages: HashMap::new(),
        }
    }

    pub(crate) fn report(self, top: usize, unparsed: Unparsed, view: View) -> ErrorsReport {
        let bins = bin_starts(&self.window)
            .into_iter()
            .enumerate()
            .map(|(index, start)| {
                let errors = self.per_bin.get(index).copied().unwrap_or(0);
                let requests = self
                    .any_requests
                    .then(|| self.requests.get(index).copied().unwrap_or(0));
                ErrorBin {
                    start,
                    errors,
                    requests,
                    rate: requests
                        .filter(|requests| *requests > 0)
                        .map(|requests| errors as f64 / requests as f64),
                }
            })
            .collect();
        let mut messages: Vec<MessageCount> = self
            .messages
            .into_iter()
            .map(|(message, count)| MessageCount { message, count })
            .collect();
        messages.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.message.cmp(&b.message)));
        messages.truncate(top);
        ErrorsReport {
            window: self.window,
            bins,
            total_errors: self.per_bin.iter().sum(),
            top_messages: messages,
            unparsed,
            view,
        }
    }
}

impl Aggregate for Errors {
    fn add(&mut self, parsed: &Parsed<'_>) {
        let Some(index) = bin_index(&self.window, parsed.time) else {
            return;
        };
        if parsed.is_request() {
            self.any_requests = true;
            if let Some(requests) = self.requests.get_mut(index) {
                *requests += 1;
            }
        }
        let is_error = parsed
            .level()
            .is_some_and(|level| self.levels.iter().any(|error| error.eq_ignore_ascii_case(level)));
        if is_error {
            if let Some(errors) = self.per_bin.get_mut(index) {
                *errors += 1;
            }
            let message = parsed.message().unwrap_or("(no message)");
            match self.messages.get_mut(message) {
                Some(count) => *count += 1,
                None => {
                    self.messages.insert(message.to_string(), 1);
                }
            }
        }
    }

    fn merge(&mut self, other: Self) {
        for (mine, theirs) in self.per_bin.iter_mut().zip(other.per_bin) {
            *mine += theirs;
        }
        for (mine, theirs) in self.requests.iter_mut().zip(other.requests) {
            *mine += theirs;
        }
        self.any_requests |= other.any_requests;
        for (message, count) in other.messages {
            *self.messages.entry(message).or_default() += count;
        }
    }
}

/// `logs auth-failures`, being counted.
pub(crate) struct AuthFailures {
    window: Window,
    needle: String,
    groups: HashMap<(Option<String>, Option<String>), u64>,
}

impl AuthFailures {
    pub(crate) fn new(window: &Window, settings: &LogsSettings) -> Self {
        Self {
            window: window.clone(),
            needle: settings.auth_match.clone(),
            groups: HashMap::new(),
        }
    }

    pub(crate) fn report(self, threshold: u64, unparsed: Unparsed) -> AuthFailuresReport {
        let groups = self
            .groups
            .into_iter()
            .filter(|(_, failures)| *failures >= threshold)
            .map(|((user, ip), failures)| AuthFailureGroup { user, ip, failures })
            .collect();
        AuthFailuresReport::new(self.window, threshold, groups, unparsed)
    }
}

impl Aggregate for AuthFailures {
    fn add(&mut self, parsed: &Parsed<'_>) {
        if !self.window.contains(parsed.time) || !parsed.message().is_some_and(|message| message.contains(&self.needle))
        {
            return;
        }
        *self.groups.entry((parsed.user(), parsed.ip())).or_default() += 1;
    }

    fn merge(&mut self, other: Self) {
        for (key, count) in other.groups {
            *self.groups.entry(key).or_default() += count;
        }
    }
}

/// `logs latency`, being measured.
pub(crate) struct Latency {
    window: Window,
    fields: Fields,
    by_path: bool,
    limit: usize,
    /// Per path, then per bin.
    paths: HashMap<String, HashMap<usize, Distribution>>,
    /// Records without a path (and every record without `--by path`), per bin.
    no_path: HashMap<usize, Distribution>,
}

fn merge_bins(mine: &mut HashMap<usize, Distribution>, theirs: HashMap<usize, Distribution>, limit: usize) {
    for (bin, distribution) in theirs {
        match mine.get_mut(&bin) {
            Some(existing) => existing.merge(distribution, limit),
            None => {
                mine.insert(bin, distribution);
            }
        }
    }
}

impl Latency {
    pub(crate) fn new(window: &Window, settings: &LogsSettings, by_path: bool) -> Self {
        Self {
            window: window.clone(),
            fields: settings.fields.clone(),
            by_path,
            limit: settings.exact_limit,
            paths: HashMap::new(),
            no_path: HashMap::new(),
        }
    }

    pub(crate) fn report(self, unparsed: Unparsed, view: View) -> LatencyReport {
        let starts = bin_starts(&self.window);
        let mut groups: Vec<((usize, Option<String>), Distribution)> = self
            .no_path
            .into_iter()
            .map(|(bin, distribution)| ((bin, None), distribution))
            .collect();
        for (path, bins) in self.paths {
            groups.extend(
                bins.into_iter()
                    .map(|(bin, distribution)| ((bin, Some(path.clone())), distribution)),
            );
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let mut exact = true;
        let rows = groups
            .into_iter()
            .map(|((bin, path), distribution)| {
                let summary = distribution.summary();
                exact &= summary.exact;
                LatencyRow {
                    start: starts.get(bin).copied().unwrap_or(self.window.from),
                    path,
                    count: summary.count,
                    mean_ms: summary.mean,
                    p50_ms: summary.p50,
                    p95_ms: summary.p95,
                    p99_ms: summary.p99,
                }
            })
            .collect();
        LatencyReport {
            window: self.window,
            by: self.by_path.then(|| "path".to_string()),
            exact,
            rows,
            unparsed,
            view,
        }
    }
}

impl Aggregate for Latency {
    fn add(&mut self, parsed: &Parsed<'_>) {
        let Some(duration) = parsed.duration_ms(&self.fields) else {
            return;
        };
        let Some(bin) = bin_index(&self.window, parsed.time) else {
            return;
        };
        let bins = match parsed.path().filter(|_| self.by_path) {
            Some(path) => {
                if !self.paths.contains_key(path) {
                    self.paths.insert(path.to_string(), HashMap::new());
                }
                self.paths.get_mut(path)
            }
            None => Some(&mut self.no_path),
        };
        if let Some(bins) = bins {
            bins.entry(bin).or_default().add(duration, self.limit);
        }
    }

    fn merge(&mut self, other: Self) {
        merge_bins(&mut self.no_path, other.no_path, self.limit);
        for (path, bins) in other.paths {
            let mine = self.paths.entry(path).or_default();
            merge_bins(mine, bins, self.limit);
        }
    }
}

/// Health's `error-rate` and `latency-p95` (runbook 5.1.2), each over its own window, in one pass: the requests
/// (records with a status or a path) and those answered 5xx in `rate`, the distribution of response times in
/// `latency`. The same questions the workspace's `kql::error_rate` and `kql::latency_p95` ask of the HTTP table,
/// asked of the files.
pub(crate) struct Requests {
    rate: Window,
    latency: Window,
    fields: Fields,
    limit: usize,
    count: u64,
    server_errors: u64,
    durations: Distribution,
}

/// What [`Requests`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RequestsSummary {
    /// Requests in the error-rate window.
    pub requests: u64,
    pub server_errors: u64,
    /// Count, mean and percentiles of the requests with a response time in the latency window, in milliseconds.
    pub latency: Summary,
}

impl Requests {
    pub(crate) fn new(rate: &Window, latency: &Window, settings: &LogsSettings) -> Self {
        Self {
            rate: rate.clone(),
            latency: latency.clone(),
            fields: settings.fields.clone(),
            limit: settings.exact_limit,
            count: 0,
            server_errors: 0,
            durations: Distribution::default(),
        }
    }

    pub(crate) fn summary(self) -> RequestsSummary {
        RequestsSummary {
            requests: self.count,
            server_errors: self.server_errors,
            latency: self.durations.summary(),
        }
    }
}

impl Aggregate for Requests {
    fn add(&mut self, parsed: &Parsed<'_>) {
        if !parsed.is_request() {
            return;
        }
        if self.rate.contains(parsed.time) {
            self.count += 1;
            if parsed.status().is_some_and(|status| status >= 500) {
                self.server_errors += 1;
            }
        }
        if self.latency.contains(parsed.time)
            && let Some(duration) = parsed.duration_ms(&self.fields)
        {
            self.durations.add(duration, self.limit);
        }
    }

    fn merge(&mut self, other: Self) {
        self.count += other.count;
        self.server_errors += other.server_errors;
        self.durations.merge(other.durations, self.limit);
    }
}

//! Azure plumbing: the blob store's connection strings, SAS signing and credential ([`credentials`]), bounded
//! client options ([`pipeline`]), and the REST client of ARM, Monitor and Log Analytics ([`rest`]) with the typed
//! ARM resources campctl uses ([`arm`]).

pub mod arm;
pub mod connection_string;
pub mod credentials;
pub mod loganalytics;
pub mod pipeline;
pub mod rest;
pub mod sas;

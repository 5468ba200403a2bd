//! Azure plumbing shared by the blob store (and later the management clients): connection strings, SAS signing,
//! the credential a store uses, and bounded client options.

pub mod connection_string;
pub mod credentials;
pub mod pipeline;
pub mod sas;

//! Typed Azure Resource Manager resources campctl reads and changes, on the REST client ([`crate::azure::rest`]).

pub mod backups;
pub mod flexible_server;
pub mod metrics;
pub mod restore;
pub mod web;

use std::fmt;

/// An ARM resource id: `/subscriptions/S/resourceGroups/G/providers/NAMESPACE/TYPE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription_id: String,
    pub resource_group: String,
    /// `Microsoft.DBforPostgreSQL/flexibleServers`.
    pub resource_type: String,
    pub name: String,
}

impl ResourceId {
    pub const FLEXIBLE_SERVER: &'static str = "Microsoft.DBforPostgreSQL/flexibleServers";
    pub const WEB_SITE: &'static str = "Microsoft.Web/sites";
    pub const APP_SERVICE_PLAN: &'static str = "Microsoft.Web/serverfarms";

    pub fn new(subscription_id: &str, resource_group: &str, resource_type: &str, name: &str) -> Self {
        Self {
            subscription_id: subscription_id.to_string(),
            resource_group: resource_group.to_string(),
            resource_type: resource_type.to_string(),
            name: name.to_string(),
        }
    }

    /// Parses a full resource id of `resource_type` (compared without case, as ARM does).
    ///
    /// # Errors
    /// A message naming what is wrong with the id.
    pub fn parse(text: &str, resource_type: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().trim_matches('/').split('/').collect();
        let type_parts: Vec<&str> = resource_type.split('/').collect();
        let expected_len = 6 + type_parts.len();
        let ok = parts.len() == expected_len
            && parts[0].eq_ignore_ascii_case("subscriptions")
            && parts[2].eq_ignore_ascii_case("resourceGroups")
            && parts[4].eq_ignore_ascii_case("providers")
            && parts[5].eq_ignore_ascii_case(type_parts[0])
            && type_parts[1..]
                .iter()
                .zip(&parts[6..])
                .all(|(want, got)| want.eq_ignore_ascii_case(got))
            && parts.iter().all(|part| !part.is_empty());
        if !ok {
            return Err(format!(
                "`{text}` is not a resource id of the form \
                 `/subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/{resource_type}/NAME`"
            ));
        }
        Ok(Self::new(parts[1], parts[3], resource_type, parts[expected_len - 1]))
    }

    /// Whether `text` looks like a resource id rather than a name.
    pub fn looks_like_id(text: &str) -> bool {
        text.trim_start().starts_with('/')
    }

    /// The id with `/CHILD_TYPE/CHILD_NAME` appended, as a path.
    pub fn child(&self, child_type: &str, child_name: &str) -> String {
        format!("{self}/{child_type}/{child_name}")
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}/{}",
            self.subscription_id, self.resource_group, self.resource_type, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_round_trip() {
        let text = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1";
        let id = ResourceId::parse(text, ResourceId::FLEXIBLE_SERVER).expect("an id");
        assert_eq!(id.name, "pg1");
        assert_eq!(id.resource_group, "rg");
        assert_eq!(id.to_string(), text);
        let lower = text.to_ascii_lowercase();
        assert!(ResourceId::parse(&lower, ResourceId::FLEXIBLE_SERVER).is_ok());
        assert!(ResourceId::parse(text, ResourceId::WEB_SITE).is_err());
        assert!(ResourceId::parse("/subscriptions/s1/resourceGroups/rg", ResourceId::FLEXIBLE_SERVER).is_err());
        assert_eq!(id.child("backups", "b1"), format!("{text}/backups/b1"));
    }
}

//! ARM list results: a `value` array and a `nextLink` to the next page, followed until it is null or absent.

use azure_core::http::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::RestClient;
use super::error::Operation;
use crate::exit::UserError;

/// The most pages one listing follows (a guard against a service that links in a circle).
pub const MAX_PAGES: usize = 10_000;

/// One page of a list result.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
}

impl RestClient {
    /// Every item of the listing at `url`, page after page.
    ///
    /// # Errors
    /// A failed page (see [`RestClient::send`]), a `nextLink` on another host than the client's endpoint (the
    /// token would go there), or more than [`MAX_PAGES`] pages.
    pub async fn list<T: DeserializeOwned>(&self, url: Url, operation: &Operation) -> anyhow::Result<Vec<T>> {
        let mut items = Vec::new();
        let mut next = Some(url);
        let mut pages = 0usize;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                anyhow::bail!("Azure returned more than {MAX_PAGES} pages to {}", operation.action);
            }
            let page: Page<T> = self.get(url, operation).await?;
            items.extend(page.value);
            if let Some(link) = page.next_link.filter(|link| !link.is_empty()) {
                let link = Url::parse(&link)
                    .map_err(|err| anyhow::anyhow!("Azure returned a `nextLink` that is not a URL ({err}): {link}"))?;
                if !self.same_origin(&link) {
                    return Err(UserError::usage(format!(
                        "Azure returned a `nextLink` on another host ({link}) to {}; campctl does not send its token \
                         there",
                        operation.action
                    ))
                    .into());
                }
                next = Some(link);
            }
        }
        Ok(items)
    }
}

//! A stand-in for Azure Resource Manager (and, started for another audience, Log Analytics) on top of
//! [`HttpServer`](super::HttpServer): HTTPS with a test CA, stateful, with the documented REST shapes
//! (docs/azure.md, /work/shared/azure-rest-facts.md).
//!
//! - Resources live in a map keyed by their path (ARM compares ids without case). `GET` on a resource returns it;
//!   `GET` on a collection (the path of an existing resource + `/NAME`, e.g. `…/flexibleServers/pg1/backups`)
//!   lists its children as `{"value": […], "nextLink": …}`, [`ArmStandIn::page_size`] at a time.
//! - `PATCH` and `PUT` are long-running operations: 202/201 with `Azure-AsyncOperation` (or `Location`, see
//!   [`ArmStandIn::lro_via_location`]) and `Retry-After: 0`; the operation answers `InProgress`
//!   [`ArmStandIn::polls`] times, then ends as [`ArmStandIn::next_outcome`] says (default `Succeeded`), and only
//!   then is the change applied, so a `GET` shows the new value after success and the old one after a failure.
//! - Flexible Server rules Azure enforces are enforced: `backupRetentionDays` 7–35, `geoRedundantBackup` not
//!   patchable; backup names match `^[-\w\._]+$`; a restore (PUT of a server with `createMode`
//!   PointInTimeRestore / GeoRestore) needs an existing source, a `pointInTimeUTC` and a `location`, and the new
//!   server is `Ready` with an FQDN.
//! - Every request is checked: the bearer token's audience (tokens from [`AzCli`](super::az::AzCli) carry it)
//!   and the api-version its provider needs (`Microsoft.DBforPostgreSQL` 2024-08-01, `Microsoft.Insights/metrics`
//!   2023-10-01, `Microsoft.Web` 2023-12-01; [`ArmStandIn::expect_api_version`] adds more). A violation is answered
//!   with 400/401 and kept: [`ArmStandIn::assert_clean`] fails the test on any.
//! - [`ArmStandIn::fault`] injects an answer (401, 403, 404, 429 with `Retry-After`, …) for matching requests;
//!   [`ArmStandIn::route`] answers a path with fixed answers (Monitor metrics, a Log Analytics query), checked
//!   like every other request; anything else unknown is an ARM-shaped 404 (`ResourceNotFound`).
//! - Azure Monitor metrics: `GET {resource}/providers/Microsoft.Insights/metrics` answers for an existing resource
//!   with the values [`ArmStandIn::set_metric`] gave, one point per `interval` from the start of `timespan` (a
//!   metric set with no values has points without `average`, as Azure's "no data"); an unknown metric name is 400.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use super::az::token_audience;
use super::context::TestContext;
use super::https::{HttpServer, Recorded, Route};
use super::tls::TestCa;

pub const SUBSCRIPTION: &str = "00000000-1111-2222-3333-444444444444";
pub const RESOURCE_GROUP: &str = "rg-campctl";
pub const LOCATION: &str = "westeurope";
pub const MANAGEMENT_AUDIENCE: &str = "https://management.azure.com";
pub const LOG_ANALYTICS_AUDIENCE: &str = "https://api.loganalytics.io";

/// How an operation ends.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded,
    Failed { code: String, message: String },
    Canceled,
}

impl Outcome {
    pub fn failed(code: &str, message: &str) -> Self {
        Self::Failed {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// What a successful operation changes.
#[derive(Debug, Clone)]
enum Apply {
    Merge { key: String, patch: Value },
    Put { key: String, resource: Value },
    Delete { key: String },
}

struct Operation {
    polls_left: u32,
    outcome: Outcome,
    apply: Apply,
    location_mode: bool,
}

struct Fault {
    method: Option<String>,
    path_suffix: String,
    route: Route,
    times: usize,
}

/// A hook that may rewrite or refuse a PUT body (`Err(route)`: answer with it) before the resource is created.
pub type PutHook = Arc<dyn Fn(&str, &Value) -> Result<Value, Route> + Send + Sync>;

struct State {
    base_url: String,
    audience: String,
    check_api_version: bool,
    resources: BTreeMap<String, Value>,
    operations: HashMap<String, Operation>,
    next_id: u64,
    page_size: usize,
    polls: u32,
    outcomes: VecDeque<Outcome>,
    faults: Vec<Fault>,
    violations: Vec<String>,
    api_versions: Vec<(String, String)>,
    location_mode: bool,
    put_hook: Option<PutHook>,
    /// `(METHOD, lower-case path)` → answers still to give (the last repeats), checked before the resources.
    routes: HashMap<(String, String), Vec<Route>>,
    /// Metric values by resource key, then metric name (lower case): (unit, values).
    metrics: HashMap<String, BTreeMap<String, (String, Vec<f64>)>>,
}

/// The stand-in; see the module docs. Stops when dropped.
pub struct ArmStandIn {
    server: HttpServer,
    ca: TestCa,
    state: Arc<Mutex<State>>,
}

fn key(path: &str) -> String {
    path.trim_end_matches('/').to_ascii_lowercase()
}

fn arm_error(status: u16, code: &str, message: &str) -> Route {
    Route::json(status, &json!({ "error": { "code": code, "message": message } }))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.eq_ignore_ascii_case(name)).then(|| v.replace("%24", "$").replace('+', " "))
    })
}

/// Deep merge of `patch` into `target` (JSON merge patch, without deletes).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (name, value) in patch {
                merge(target.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

impl ArmStandIn {
    /// ARM (audience `https://management.azure.com`, api-versions checked).
    pub fn start() -> Self {
        Self::start_for(MANAGEMENT_AUDIENCE, true)
    }

    /// Log Analytics (audience `https://api.loganalytics.io`, no api-version).
    pub fn log_analytics() -> Self {
        Self::start_for(LOG_ANALYTICS_AUDIENCE, false)
    }

    /// A stand-in whose tokens must have `audience`.
    pub fn start_for(audience: &str, check_api_version: bool) -> Self {
        let ca = TestCa::new("campctl ARM stand-in CA");
        let cert = ca.issue_server_cert(&["localhost"], &["127.0.0.1".parse().expect("an IP")]);
        let server = HttpServer::https(&cert);
        let state = Arc::new(Mutex::new(State {
            base_url: server.url(""),
            audience: audience.to_owned(),
            check_api_version,
            resources: BTreeMap::new(),
            operations: HashMap::new(),
            next_id: 1,
            page_size: 100,
            polls: 2,
            outcomes: VecDeque::new(),
            faults: Vec::new(),
            violations: Vec::new(),
            api_versions: vec![
                ("/providers/microsoft.insights/metrics".into(), "2023-10-01".into()),
                ("/providers/microsoft.insights/metricalerts".into(), "2018-03-01".into()),
                ("/providers/microsoft.web/".into(), "2023-12-01".into()),
                ("/providers/microsoft.dbforpostgresql/".into(), "2024-08-01".into()),
            ],
            location_mode: false,
            put_hook: None,
            routes: HashMap::new(),
            metrics: HashMap::new(),
        }));
        let handler_state = Arc::clone(&state);
        server.handler(Arc::new(move |request: &Recorded| {
            let mut state = handler_state.lock().unwrap_or_else(PoisonError::into_inner);
            Some(state.handle(request))
        }));
        Self { server, ca, state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.server.url("")
    }

    /// The underlying server (static routes, raw requests).
    pub fn server(&self) -> &HttpServer {
        &self.server
    }

    /// Writes the test CA into the context's HOME and returns its path (for `SSL_CERT_FILE`).
    pub fn ca_file(&self, ctx: &TestContext) -> PathBuf {
        ctx.write_file("arm-stand-in-ca.pem", self.ca.cert_pem())
    }

    /// An `[azure]` section pointing at this stand-in with the `az` credential, fast polls and the test
    /// subscription and resource group (append your own keys after it).
    pub fn azure_section(&self) -> String {
        format!(
            "[azure]\nmanagement_endpoint = \"{}\"\ncredential = \"cli\"\nsubscription_id = \"{SUBSCRIPTION}\"\n\
             resource_group = \"{RESOURCE_GROUP}\"\npoll_interval = \"50ms\"\nmax_retry_wait = \"5s\"\n",
            self.endpoint()
        )
    }

    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.DBforPostgreSQL/flexibleServers/NAME`.
    pub fn server_id(name: &str) -> String {
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.DBforPostgreSQL/\
             flexibleServers/{name}"
        )
    }

    /// Adds a Ready Flexible Server `name` (PostgreSQL 16, 7 days' retention, geo-redundant backup disabled) and
    /// returns its id.
    pub fn add_server(&self, name: &str) -> String {
        let id = Self::server_id(name);
        self.set_resource(
            &id,
            json!({
                "id": id, "name": name, "type": "Microsoft.DBforPostgreSQL/flexibleServers", "location": LOCATION,
                "tags": {},
                "sku": { "name": "Standard_D2ds_v4", "tier": "GeneralPurpose" },
                "properties": {
                    "version": "16", "minorVersion": "4", "state": "Ready",
                    "fullyQualifiedDomainName": format!("{name}.postgres.database.azure.com"),
                    "storage": { "storageSizeGB": 128, "autoGrow": "Disabled", "tier": "P10", "type": "Premium_LRS" },
                    "backup": { "backupRetentionDays": 7, "geoRedundantBackup": "Disabled",
                                "earliestRestoreDate": "2026-11-28T03:00:00+00:00" },
                    "highAvailability": { "mode": "Disabled" },
                    "network": { "publicNetworkAccess": "Enabled" },
                    "availabilityZone": "1", "replicationRole": "Primary"
                }
            }),
        );
        id
    }

    /// Adds `count` automatic backups to server `name` (`daily_…` names, one a day).
    pub fn add_backups(&self, name: &str, count: usize) {
        for day in 0..count {
            let backup = format!("daily_202611{:02}T030000", day + 1);
            let id = format!("{}/backups/{backup}", Self::server_id(name));
            self.set_resource(
                &id,
                json!({
                    "id": id, "name": backup, "type": "Microsoft.DBforPostgreSQL/flexibleServers/backups",
                    "properties": { "backupType": "Full", "source": "Automatic",
                                    "completedTime": format!("2026-11-{:02}T03:05:19.902522+00:00", day + 1) }
                }),
            );
        }
    }

    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.Web/sites/NAME`.
    pub fn site_id(name: &str) -> String {
        format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Web/sites/{name}")
    }

    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.Web/serverfarms/NAME`.
    pub fn plan_id(name: &str) -> String {
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Web/serverfarms/{name}"
        )
    }

    /// Adds (or replaces) the web app `name` with `state` and `availabilityState` and returns its id.
    pub fn add_site(&self, name: &str, state: &str, availability: &str) -> String {
        let id = Self::site_id(name);
        self.set_resource(
            &id,
            json!({
                "id": id, "name": name, "type": "Microsoft.Web/sites", "location": LOCATION, "kind": "app,linux",
                "properties": {
                    "state": state, "availabilityState": availability, "enabled": true,
                    "defaultHostName": format!("{name}.azurewebsites.net"), "usageState": "Normal",
                    "serverFarmId": Self::plan_id("plan1")
                }
            }),
        );
        id
    }

    /// Adds the App Service plan `name` and returns its id.
    pub fn add_plan(&self, name: &str) -> String {
        let id = Self::plan_id(name);
        self.set_resource(
            &id,
            json!({
                "id": id, "name": name, "type": "Microsoft.Web/serverfarms", "location": LOCATION,
                "sku": { "name": "P1v3", "tier": "PremiumV3" }, "properties": { "status": "Ready" }
            }),
        );
        id
    }

    /// The metric `name` of the resource at `path`: its `unit` (`Percent`, `Count`) and one average per point,
    /// oldest first (none: no data).
    pub fn set_metric(&self, path: &str, name: &str, unit: &str, values: &[f64]) -> &Self {
        self.state()
            .metrics
            .entry(key(path))
            .or_default()
            .insert(name.to_ascii_lowercase(), (unit.to_owned(), values.to_vec()));
        self
    }

    /// Sets (adds or replaces) the resource at `path`.
    pub fn set_resource(&self, path: &str, resource: Value) {
        self.state().resources.insert(key(path), resource);
    }

    /// The resource at `path`, as it is now.
    pub fn resource(&self, path: &str) -> Option<Value> {
        self.state().resources.get(&key(path)).cloned()
    }

    /// Items per page of a listing (default 100).
    pub fn page_size(&self, size: usize) -> &Self {
        self.state().page_size = size.max(1);
        self
    }

    /// `InProgress` answers before an operation ends (default 2).
    pub fn polls(&self, polls: u32) -> &Self {
        self.state().polls = polls;
        self
    }

    /// How the next operation started ends (then `Succeeded` again).
    pub fn next_outcome(&self, outcome: Outcome) -> &Self {
        self.state().outcomes.push_back(outcome);
        self
    }

    /// Operations answer with `Location` (202 until done) instead of `Azure-AsyncOperation`.
    pub fn lro_via_location(&self, on: bool) -> &Self {
        self.state().location_mode = on;
        self
    }

    /// Checks a PUT body (or rewrites it) before the resource is created.
    pub fn put_hook(&self, hook: PutHook) -> &Self {
        self.state().put_hook = Some(hook);
        self
    }

    /// Expects api-version `version` on paths containing `fragment` (lower case), checked before the built-in ones.
    pub fn expect_api_version(&self, fragment: &str, version: &str) -> &Self {
        self.state()
            .api_versions
            .insert(0, (fragment.to_ascii_lowercase(), version.to_owned()));
        self
    }

    /// Answers the next `times` requests of `method` (any with `None`) whose path ends with `path_suffix` (no case)
    /// with `route`, after the audience and api-version checks.
    pub fn fault(&self, method: Option<&str>, path_suffix: &str, route: Route, times: usize) -> &Self {
        self.state().faults.push(Fault {
            method: method.map(str::to_ascii_uppercase),
            path_suffix: path_suffix.to_ascii_lowercase(),
            route,
            times,
        });
        self
    }

    /// Answers `method path` (the query is not matched; path without case) with `route` from now on, after the
    /// audience and api-version checks: for resources without state, such as Monitor metrics
    /// (`…/providers/Microsoft.Insights/metrics`) or a Log Analytics query (`POST /v1/workspaces/ID/query`).
    pub fn route(&self, method: &str, path: &str, route: Route) -> &Self {
        self.route_sequence(method, path, vec![route])
    }

    /// Answers `method path` with `routes` in turn; the last one repeats.
    pub fn route_sequence(&self, method: &str, path: &str, routes: Vec<Route>) -> &Self {
        self.state()
            .routes
            .insert((method.to_ascii_uppercase(), key(path)), routes);
        self
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }

    /// `METHOD path` of every request so far (operation polls included).
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|request| format!("{} {}", request.method, request.path))
            .collect()
    }

    /// The audience and api-version problems seen so far.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Fails the test if any request had a wrong audience or api-version.
    pub fn assert_clean(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the ARM stand-in saw bad requests: {violations:#?}"
        );
    }
}

impl State {
    fn handle(&mut self, request: &Recorded) -> Route {
        let path = request.path.clone();
        let lower = key(&path);
        match token_audience(request.header("authorization")) {
            Some(audience) if audience == self.audience => {}
            other => {
                self.violations.push(format!(
                    "{} {path}: token audience {other:?}, expected {:?}",
                    request.method, self.audience
                ));
                return arm_error(
                    401,
                    "InvalidAuthenticationTokenAudience",
                    "The access token has been obtained for wrong audience or resource.",
                );
            }
        }
        if self.check_api_version {
            let expected = self
                .api_versions
                .iter()
                .find(|(fragment, _)| lower.contains(fragment.as_str()))
                .map(|(_, version)| version.clone());
            let given = query_param(request.query.as_deref(), "api-version");
            if let Some(expected) = expected
                && given.as_deref() != Some(expected.as_str())
            {
                self.violations.push(format!(
                    "{} {path}: api-version {given:?}, expected {expected:?}",
                    request.method
                ));
                return arm_error(
                    400,
                    "InvalidApiVersionParameter",
                    &format!("The api-version '{}' is invalid.", given.unwrap_or_default()),
                );
            }
        }
        if let Some(index) = self.faults.iter().position(|fault| {
            fault.times > 0
                && fault.method.as_deref().is_none_or(|method| method == request.method)
                && lower.ends_with(&fault.path_suffix)
        }) {
            let fault = &mut self.faults[index];
            fault.times -= 1;
            return fault.route.clone();
        }
        if let Some(answers) = self.routes.get_mut(&(request.method.clone(), lower.clone())) {
            let route = if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            };
            return route;
        }
        if let Some(id) = lower
            .rsplit_once("/azureasyncoperation/")
            .or_else(|| lower.rsplit_once("/operationresults/"))
            .map(|(_, id)| id.to_owned())
        {
            return self.poll(&id);
        }
        if request.method == "GET"
            && let Some(resource) = lower.strip_suffix("/providers/microsoft.insights/metrics")
        {
            return self.metrics(resource, request.query.as_deref());
        }
        match request.method.as_str() {
            "GET" => self.get(&path, request.query.as_deref()),
            "PATCH" => self.patch(&path, request),
            "PUT" => self.put(&path, request),
            "DELETE" => self.delete(&path, request),
            _ => Self::not_found(&path),
        }
    }

    fn not_found(path: &str) -> Route {
        arm_error(
            404,
            "ResourceNotFound",
            &format!("The Resource '{path}' under resource group '{RESOURCE_GROUP}' was not found."),
        )
    }

    fn get(&self, path: &str, query: Option<&str>) -> Route {
        let lower = key(path);
        if let Some(resource) = self.resources.get(&lower) {
            return Route::json(200, resource);
        }
        let Some((parent, _)) = lower.rsplit_once('/') else {
            return Self::not_found(path);
        };
        if !self.resources.contains_key(parent) {
            return Self::not_found(path);
        }
        let prefix = format!("{lower}/");
        let children: Vec<&Value> = self
            .resources
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix) && !name[prefix.len()..].contains('/'))
            .map(|(_, value)| value)
            .collect();
        let skip: usize = query_param(query, "$skipToken")
            .and_then(|token| token.parse().ok())
            .unwrap_or(0);
        let page: Vec<&Value> = children.iter().skip(skip).take(self.page_size).copied().collect();
        let next = skip + page.len();
        let next_link = (next < children.len()).then(|| {
            let api_version = query_param(query, "api-version").unwrap_or_default();
            format!("{}{path}?api-version={api_version}&$skipToken={next}", self.base_url)
        });
        Route::json(200, &json!({ "value": page, "nextLink": next_link }))
    }

    /// `GET {resource}/providers/Microsoft.Insights/metrics` (see the module docs).
    fn metrics(&self, resource: &str, query: Option<&str>) -> Route {
        if !self.resources.contains_key(resource) {
            return Self::not_found(resource);
        }
        let decode = |text: String| {
            percent_encoding::percent_decode_str(&text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let Some(names) = query_param(query, "metricnames").map(decode) else {
            return arm_error(400, "BadRequest", "metricnames is required.");
        };
        let timespan = query_param(query, "timespan").map(decode).unwrap_or_default();
        let interval = query_param(query, "interval").unwrap_or_else(|| "PT1M".into());
        let Some(start) = timespan
            .split_once('/')
            .and_then(|(start, _)| chrono::DateTime::parse_from_rfc3339(start).ok())
        else {
            return arm_error(400, "BadRequest", &format!("Invalid timespan '{timespan}'."));
        };
        let step_minutes: i64 = interval
            .trim_start_matches("PT")
            .trim_end_matches('M')
            .parse()
            .unwrap_or(1);
        let known = self.metrics.get(resource);
        let mut value = Vec::new();
        for name in names.split(',') {
            let Some((unit, values)) = known.and_then(|known| known.get(&name.to_ascii_lowercase())) else {
                return arm_error(
                    400,
                    "BadRequest",
                    &format!("Failed to find metric configuration for provider, resource: {resource}, metric: {name}."),
                );
            };
            let at = |index: i64| {
                (start + chrono::Duration::minutes(step_minutes * index))
                    .to_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            let data: Vec<Value> = if values.is_empty() {
                (0..3).map(|index| json!({ "timeStamp": at(index) })).collect()
            } else {
                (0i64..)
                    .zip(values)
                    .map(|(index, average)| json!({ "timeStamp": at(index), "average": average }))
                    .collect()
            };
            value.push(json!({
                "id": format!("{resource}/providers/Microsoft.Insights/metrics/{name}"),
                "type": "Microsoft.Insights/metrics",
                "name": { "value": name, "localizedValue": name },
                "unit": unit, "errorCode": "Success",
                "timeseries": [ { "metadatavalues": [], "data": data } ]
            }));
        }
        Route::json(
            200,
            &json!({ "cost": 0, "timespan": timespan, "interval": interval, "namespace": "", "resourceregion": LOCATION,
                     "value": value }),
        )
    }

    fn start_operation(&mut self, path: &str, query: Option<&str>, apply: Apply, status: u16) -> Route {
        let id = format!("op-{:04}", self.next_id);
        self.next_id += 1;
        let outcome = self.outcomes.pop_front().unwrap_or(Outcome::Succeeded);
        let namespace = path
            .split('/')
            .skip_while(|part| !part.eq_ignore_ascii_case("providers"))
            .nth(1)
            .unwrap_or("Microsoft.Resources")
            .to_owned();
        let api_version = query_param(query, "api-version").unwrap_or_default();
        let (segment, header) = if self.location_mode {
            ("operationResults", "Location")
        } else {
            ("azureAsyncOperation", "Azure-AsyncOperation")
        };
        let url = format!(
            "{}/subscriptions/{SUBSCRIPTION}/providers/{namespace}/locations/{LOCATION}/{segment}/{id}?api-version=\
             {api_version}",
            self.base_url
        );
        self.operations.insert(
            id.to_ascii_lowercase(),
            Operation {
                polls_left: self.polls,
                outcome,
                apply,
                location_mode: self.location_mode,
            },
        );
        Route::status(status).header(header, &url).header("Retry-After", "0")
    }

    fn poll(&mut self, id: &str) -> Route {
        let Some(operation) = self.operations.get_mut(id) else {
            return arm_error(404, "OperationNotFound", &format!("No operation '{id}'."));
        };
        if operation.polls_left > 0 {
            operation.polls_left -= 1;
            return if operation.location_mode {
                Route::status(202).header("Retry-After", "0")
            } else {
                Route::json(
                    200,
                    &json!({ "name": id, "status": "InProgress", "startTime": "2026-12-05T03:00:00Z" }),
                )
                .header("Retry-After", "0")
            };
        }
        let outcome = operation.outcome.clone();
        let apply = operation.apply.clone();
        let location_mode = operation.location_mode;
        match outcome {
            Outcome::Succeeded => {
                let result = self.apply(apply);
                if location_mode {
                    result.map_or_else(|| Route::status(204), |value| Route::json(200, &value))
                } else {
                    Route::json(200, &json!({ "name": id, "status": "Succeeded" }))
                }
            }
            Outcome::Failed { code, message } => {
                if location_mode {
                    arm_error(400, &code, &message)
                } else {
                    Route::json(
                        200,
                        &json!({ "name": id, "status": "Failed", "error": { "code": code, "message": message } }),
                    )
                }
            }
            Outcome::Canceled => Route::json(
                200,
                &json!({ "name": id, "status": "Canceled",
                         "error": { "code": "OperationCanceled", "message": "The operation was canceled." } }),
            ),
        }
    }

    fn apply(&mut self, apply: Apply) -> Option<Value> {
        match apply {
            Apply::Merge { key, patch } => {
                let resource = self.resources.get_mut(&key)?;
                merge(resource, &patch);
                Some(resource.clone())
            }
            Apply::Put { key, resource } => {
                self.resources.insert(key, resource.clone());
                Some(resource)
            }
            Apply::Delete { key } => {
                self.resources
                    .retain(|name, _| *name != key && !name.starts_with(&format!("{key}/")));
                None
            }
        }
    }

    fn patch(&mut self, path: &str, request: &Recorded) -> Route {
        let lower = key(path);
        if !self.resources.contains_key(&lower) {
            return Self::not_found(path);
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return arm_error(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized.",
            );
        };
        if lower.contains("/flexibleservers/") {
            let backup = &body["properties"]["backup"];
            if let Some(days) = backup.get("backupRetentionDays")
                && !days.as_u64().is_some_and(|days| (7..=35).contains(&days))
            {
                return arm_error(
                    400,
                    "InvalidBackupRetentionDays",
                    "The backup retention days must be between 7 and 35.",
                );
            }
            if backup.get("geoRedundantBackup").is_some() {
                return arm_error(
                    400,
                    "GeoRedundantBackupCannotBeUpdated",
                    "Geo-redundant backup can only be configured when the server is created.",
                );
            }
        }
        self.start_operation(
            path,
            request.query.as_deref(),
            Apply::Merge {
                key: lower,
                patch: body,
            },
            202,
        )
    }

    fn put(&mut self, path: &str, request: &Recorded) -> Route {
        let lower = key(path);
        let Some((parent, name)) = path.trim_end_matches('/').rsplit_once('/') else {
            return Self::not_found(path);
        };
        let body: Value = if request.body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(body) => body,
                Err(_) => {
                    return arm_error(
                        400,
                        "InvalidRequestContent",
                        "The request content could not be deserialized.",
                    );
                }
            }
        };
        let resource = if let Some(server) = parent.strip_suffix("/backups") {
            if !self.resources.contains_key(&key(server)) {
                return Self::not_found(server);
            }
            let valid = name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return arm_error(
                    400,
                    "InvalidResourceName",
                    &format!("The backup name '{name}' is invalid."),
                );
            }
            json!({
                "id": path, "name": name, "type": "Microsoft.DBforPostgreSQL/flexibleServers/backups",
                "properties": { "backupType": "Customer On-Demand", "completedTime": "2026-12-05T03:10:00+00:00" }
            })
        } else if lower.contains("/providers/microsoft.dbforpostgresql/flexibleservers/") {
            match self.created_server(path, name, &body) {
                Ok(resource) => resource,
                Err(route) => return route,
            }
        } else {
            let mut resource = body.clone();
            merge(&mut resource, &json!({ "id": path, "name": name }));
            resource
        };
        let resource = match &self.put_hook {
            Some(hook) => match hook(path, &resource) {
                Ok(resource) => resource,
                Err(route) => return route,
            },
            None => resource,
        };
        let status = if parent.ends_with("/backups") { 202 } else { 201 };
        self.start_operation(
            path,
            request.query.as_deref(),
            Apply::Put { key: lower, resource },
            status,
        )
    }

    /// A new Flexible Server from a PUT body, with the rules Azure enforces on restores (`createMode`
    /// PointInTimeRestore / GeoRestore need an existing `sourceServerResourceId`, a `pointInTimeUTC` and a
    /// `location`): the source's properties with the body's over them, `Ready`, with an FQDN.
    fn created_server(&self, path: &str, name: &str, body: &Value) -> Result<Value, Route> {
        let properties = &body["properties"];
        let mode = properties["createMode"].as_str().unwrap_or("Default");
        let mut resource = json!({});
        if matches!(mode, "PointInTimeRestore" | "GeoRestore") {
            let Some(source_id) = properties["sourceServerResourceId"].as_str() else {
                return Err(arm_error(
                    400,
                    "MissingSourceServerResourceId",
                    "sourceServerResourceId is required for this createMode.",
                ));
            };
            let Some(source) = self.resources.get(&key(source_id)) else {
                return Err(arm_error(
                    400,
                    "SourceServerNotFound",
                    &format!("The source server '{source_id}' was not found."),
                ));
            };
            let time = properties["pointInTimeUTC"].as_str().unwrap_or_default();
            if chrono::DateTime::parse_from_rfc3339(time).is_err() {
                return Err(arm_error(
                    400,
                    "InvalidPointInTime",
                    &format!("pointInTimeUTC '{time}' is not a valid UTC time."),
                ));
            }
            if body["location"].as_str().is_none_or(str::is_empty) {
                return Err(arm_error(400, "LocationRequired", "The location property is required."));
            }
            resource = json!({
                "sku": source["sku"],
                "properties": {
                    "version": source["properties"]["version"],
                    "administratorLogin": source["properties"]["administratorLogin"],
                    "storage": source["properties"]["storage"],
                    "backup": { "backupRetentionDays": 7, "geoRedundantBackup": "Disabled" },
                    "network": { "publicNetworkAccess": "Enabled" },
                },
            });
        }
        merge(&mut resource, body);
        merge(
            &mut resource,
            &json!({
                "id": path, "name": name, "type": "Microsoft.DBforPostgreSQL/flexibleServers",
                "properties": { "state": "Ready",
                                "fullyQualifiedDomainName": format!("{name}.postgres.database.azure.com") },
            }),
        );
        Ok(resource)
    }

    fn delete(&mut self, path: &str, request: &Recorded) -> Route {
        let lower = key(path);
        if !self.resources.contains_key(&lower) {
            return Route::status(204);
        }
        let location = self.location_mode;
        self.location_mode = true;
        let route = self.start_operation(path, request.query.as_deref(), Apply::Delete { key: lower }, 202);
        self.location_mode = location;
        route
    }
}

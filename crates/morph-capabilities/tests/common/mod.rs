//! What the capabilities' tests share: a store in a temporary folder, capabilities
//! whose checker is a grant set, a registered extension and a call context.
#![allow(dead_code, clippy::unwrap_used)]

use morph_abi::{EventInfo, ExtensionInfo, HostError, SideEffect};
use morph_capabilities::Capabilities;
use morph_permissions::{Grant, GrantSet};
use morph_runtime::{CallContext, CallKind, HostCall, HostHandler, HostReply};
use morph_store::Store;
use std::sync::Arc;

pub const EXT: &str = "acme";

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub caps: Capabilities,
    pub cx: CallContext,
}

pub fn grants(texts: &[&str]) -> GrantSet {
    texts
        .iter()
        .map(|t| t.parse::<Grant>().unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect()
}

pub fn info(events: &[(&str, &str)], config_schema: Option<&str>) -> ExtensionInfo {
    ExtensionInfo {
        id: EXT.to_owned(),
        name: "Acme".to_owned(),
        version: "1.2.0".to_owned(),
        description: String::new(),
        actions: Vec::new(),
        events: events
            .iter()
            .map(|(name, schema)| EventInfo {
                name: (*name).to_owned(),
                description: String::new(),
                payload_schema: (*schema).to_owned(),
            })
            .collect(),
        config_schema: config_schema.map(str::to_owned),
    }
}

/// Capabilities over a fresh store, deciding by `granted`, with `acme` registered.
pub fn setup(granted: &[&str], dry_run: bool) -> Setup {
    setup_with(granted, dry_run, &info(&[], None), |b| b)
}

pub fn setup_with(
    granted: &[&str],
    dry_run: bool,
    info: &ExtensionInfo,
    build: impl FnOnce(
        morph_capabilities::CapabilitiesBuilder,
    ) -> morph_capabilities::CapabilitiesBuilder,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let set = grants(granted);
    // The capabilities decide by the effective grants registered below.
    let caps = build(Capabilities::builder(Arc::clone(&store)).dry_run(dry_run))
        .build()
        .unwrap();
    caps.register(info, &set).unwrap();
    Setup {
        dir,
        store,
        caps,
        cx: cx(),
    }
}

pub fn cx() -> CallContext {
    CallContext {
        extension: EXT.into(),
        kind: CallKind::Execute {
            action: "sync".into(),
            side_effect: SideEffect::Write,
        },
    }
}

impl Setup {
    pub async fn call(&self, call: HostCall) -> Result<HostReply, HostError> {
        self.caps.handle(&self.cx, call).await
    }

    /// The audit log of `acme`, oldest first, as `outcome permission target`.
    pub fn audit(&self) -> Vec<String> {
        let mut records = self.store.audit(EXT, 1000).unwrap();
        records.reverse();
        records
            .iter()
            .map(|r| format!("{} {} {}", r.outcome, r.permission, r.target))
            .collect()
    }
}

//! The drift guard: the contract's WIT, parsed with wit-parser, against the hand-kept
//! mirrors in this crate (the Canonical ABI layouts of `abi.rs` and the import table of
//! `call.rs`). A change to either side that the other does not follow fails here.

use crate::abi::Abi;
use crate::call::IMPORTS;
use morph_abi::{
    ActionInfo, CONTRACT_VERSIONS, Completion, CompletionRequest, Error as GuestError,
    ErrorKind as GuestErrorKind, EventInfo, ExtensionInfo, Header, HostError, HostErrorKind,
    HttpRequest, HttpResponse, LogLevel, Message, Method, Notification, Role, SideEffect, Urgency,
};
use wit_parser::{Resolve, SizeAlign, Type, TypeId};

/// Every contract version's WIT, oldest first.
const WIT: [(&str, &str); 2] = [
    ("0.1.0", include_str!("../../../wit/v0.1.0/morph.wit")),
    ("0.2.0", include_str!("../../../wit/v0.2.0/morph.wit")),
];

fn contract() -> Resolve {
    let mut resolve = Resolve::default();
    for (version, wit) in WIT {
        resolve
            .push_str(format!("v{version}/morph.wit"), wit)
            .expect("the contract's WIT parses");
    }
    resolve
}

#[test]
fn every_contract_version_has_its_wit_and_only_those() {
    let versions: Vec<&str> = WIT.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, CONTRACT_VERSIONS);
    let resolve = contract();
    for (version, _) in WIT {
        assert!(
            resolve.packages.iter().any(|(_, p)| p
                .name
                .version
                .as_ref()
                .is_some_and(|v| v.to_string() == version)),
            "the WIT of {version} declares its version"
        );
    }
}

fn type_id(resolve: &Resolve, iface: &str, name: &str) -> TypeId {
    let (_, i) = resolve
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some(iface))
        .unwrap_or_else(|| panic!("interface `{iface}` is in the WIT"));
    *i.types
        .get(name)
        .unwrap_or_else(|| panic!("type `{iface}.{name}` is in the WIT"))
}

fn layout<T: Abi>() -> (usize, usize) {
    (T::SIZE as usize, T::ALIGN as usize)
}

#[test]
fn every_contract_type_has_the_layout_the_wit_gives_it() {
    let resolve = contract();
    let mut sizes = SizeAlign::default();
    sizes.fill(&resolve).expect("sizes");
    let checks: &[(&str, &str, (usize, usize))] = &[
        ("types", "side-effect", layout::<SideEffect>()),
        ("types", "action-info", layout::<ActionInfo>()),
        ("types", "event-info", layout::<EventInfo>()),
        ("types", "extension-info", layout::<ExtensionInfo>()),
        ("types", "error-kind", layout::<GuestErrorKind>()),
        ("types", "error", layout::<GuestError>()),
        ("types", "host-error-kind", layout::<HostErrorKind>()),
        ("types", "host-error", layout::<HostError>()),
        ("log", "level", layout::<LogLevel>()),
        ("http", "method", layout::<Method>()),
        ("http", "header", layout::<Header>()),
        ("http", "request", layout::<HttpRequest>()),
        ("http", "response", layout::<HttpResponse>()),
        ("notify", "urgency", layout::<Urgency>()),
        ("notify", "notification", layout::<Notification>()),
        ("ai", "role", layout::<Role>()),
        ("ai", "message", layout::<Message>()),
        ("ai", "completion-request", layout::<CompletionRequest>()),
        ("ai", "completion", layout::<Completion>()),
    ];
    for (iface, name, ours) in checks {
        let ty = Type::Id(type_id(&resolve, iface, name));
        let wit = (
            sizes.size(&ty).size_wasm32(),
            sizes.align(&ty).align_wasm32(),
        );
        assert_eq!(
            *ours, wit,
            "{iface}.{name}: (size, align) here vs in the WIT"
        );
    }
}

#[test]
fn every_import_has_the_flat_parameters_the_wit_gives_it() {
    let resolve = contract();
    let mut seen = 0;
    for (_, iface) in resolve.interfaces.iter() {
        let Some(iface_name) = iface.name.as_deref() else {
            continue;
        };
        let version = iface
            .package
            .and_then(|p| resolve.packages[p].name.version.as_ref())
            .map(ToString::to_string)
            .expect("every interface of the contract is in a versioned package");
        for (name, func) in &iface.functions {
            let module = format!("morph:extension/{iface_name}@{version}");
            let spec = IMPORTS
                .iter()
                .find(|s| s.module == module && s.name == name)
                .unwrap_or_else(|| panic!("{module}::{name} is in the WIT but not in IMPORTS"));
            assert_eq!(
                spec.since, version,
                "{module}::{name}: the version that brought it"
            );
            let sig = resolve.wasm_signature(wit_parser::abi::AbiVariant::GuestImport, func);
            use wit_parser::abi::WasmType::{I32, Length, Pointer};
            assert!(
                sig.params
                    .iter()
                    .all(|p| matches!(p, I32 | Pointer | Length)),
                "{module}::{name}: every flat parameter is an i32 on wasm32: {:?}",
                sig.params
            );
            assert!(
                sig.results.is_empty(),
                "{module}::{name} returns through memory"
            );
            assert_eq!(
                spec.params,
                sig.params.len(),
                "{module}::{name}: parameters"
            );
            seen += 1;
        }
    }
    assert_eq!(
        seen,
        IMPORTS.len(),
        "IMPORTS lists a function the WIT lacks"
    );
}

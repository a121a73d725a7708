//! The backends a build offers, by name.

use morph_runtime::{Error, ErrorKind, Result, Runtime};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// A Morph backend: an engine and the way it runs a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// wasmtime, module run as a component: the reference semantics.
    Wasmtime,
    /// wasmtime, module run as a core module through Morph's Canonical ABI.
    WasmtimeCore,
    /// wasmer with Cranelift: optimizing JIT for desktop and Android.
    WasmerCranelift,
    /// wasmer with Singlepass: fast compiles, slower code.
    WasmerSinglepass,
    /// wasmi: interpreter for iOS and other JIT-less targets.
    Wasmi,
}

impl Backend {
    /// Every backend Morph knows, available in this build or not.
    pub const ALL: [Backend; 5] = [
        Backend::Wasmtime,
        Backend::WasmtimeCore,
        Backend::WasmerCranelift,
        Backend::WasmerSinglepass,
        Backend::Wasmi,
    ];

    /// The backend's name, as `--backend` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Wasmtime => "wasmtime",
            Backend::WasmtimeCore => "wasmtime-core",
            Backend::WasmerCranelift => "wasmer-cranelift",
            Backend::WasmerSinglepass => "wasmer-singlepass",
            Backend::Wasmi => "wasmi",
        }
    }

    /// What the backend is for.
    pub fn purpose(self) -> &'static str {
        match self {
            Backend::Wasmtime => "reference: wasmtime, module run as a component",
            Backend::WasmtimeCore => "wasmtime, module run as a core module through Morph's ABI",
            Backend::WasmerCranelift => {
                "wasmer + Cranelift: optimizing JIT for desktop and Android"
            }
            Backend::WasmerSinglepass => "wasmer + Singlepass: fast compiles, slower code",
            Backend::Wasmi => "wasmi interpreter: iOS and other targets without JIT",
        }
    }

    /// The Cargo feature of morph-host that brings the backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Wasmtime | Backend::WasmtimeCore => "wasmtime",
            Backend::WasmerCranelift => "wasmer-cranelift",
            Backend::WasmerSinglepass => "wasmer-singlepass",
            Backend::Wasmi => "wasmi",
        }
    }

    /// Whether this build includes the backend.
    pub fn available(self) -> bool {
        match self {
            Backend::Wasmtime | Backend::WasmtimeCore => cfg!(feature = "wasmtime"),
            Backend::WasmerCranelift => cfg!(feature = "wasmer-cranelift"),
            Backend::WasmerSinglepass => cfg!(feature = "wasmer-singlepass"),
            Backend::Wasmi => cfg!(feature = "wasmi"),
        }
    }

    /// The backends this build includes.
    pub fn available_backends() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.available()).collect()
    }

    /// The process-wide runtime of this backend, created on first use and shared.
    ///
    /// # Errors
    /// `BackendUnavailable` when this build does not include it; `Engine` when the engine
    /// cannot start.
    pub fn runtime(self) -> Result<Arc<dyn Runtime>> {
        static CACHE: [OnceLock<Arc<dyn Runtime>>; 5] = [const { OnceLock::new() }; 5];
        let slot = &CACHE[self as usize];
        if let Some(rt) = slot.get() {
            return Ok(rt.clone());
        }
        let rt = self.create()?;
        Ok(slot.get_or_init(|| rt).clone())
    }

    fn create(self) -> Result<Arc<dyn Runtime>> {
        match self {
            #[cfg(feature = "wasmtime")]
            Backend::Wasmtime => Ok(Arc::new(morph_wasmtime_ref::WasmtimeRuntime::component()?)),
            #[cfg(feature = "wasmtime")]
            Backend::WasmtimeCore => Ok(Arc::new(morph_wasmtime_ref::WasmtimeRuntime::core()?)),
            #[cfg(feature = "wasmer-cranelift")]
            Backend::WasmerCranelift => Ok(Arc::new(morph_wasmer::WasmerRuntime::cranelift()?)),
            #[cfg(feature = "wasmer-singlepass")]
            Backend::WasmerSinglepass => Ok(Arc::new(morph_wasmer::WasmerRuntime::singlepass()?)),
            #[cfg(feature = "wasmi")]
            Backend::Wasmi => Ok(Arc::new(morph_wasmi::WasmiRuntime::new()?)),
            #[allow(unreachable_patterns)] // reachable when a backend's feature is off
            _ => Err(self.unavailable()),
        }
    }

    fn unavailable(self) -> Error {
        Error::new(ErrorKind::BackendUnavailable {
            name: format!(
                "{} (build morph-host with the `{}` feature)",
                self.name(),
                self.feature()
            ),
            available: Self::available_backends()
                .iter()
                .map(|b| b.name().to_owned())
                .collect(),
        })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    /// Parses a backend name.
    ///
    /// # Errors
    /// `BackendUnavailable` listing the names this build offers.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                Error::new(ErrorKind::BackendUnavailable {
                    name: s.to_owned(),
                    available: Self::available_backends()
                        .iter()
                        .map(|b| b.name().to_owned())
                        .collect(),
                })
            })
    }
}

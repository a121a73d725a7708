//! `--backend`: every backend Morph knows, whether or not this build includes it. clap
//! refuses a name that is not one of them (exit 2, listing the choices); a known backend
//! left out of this build gets through, and the library refuses it (exit 11, naming the
//! Cargo feature that brings it in).

use clap::ValueEnum;
use morph_host::Backend;

/// A backend, as `--backend` spells it (the same names as [`Backend::name`]).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendArg {
    /// wasmtime, module run as a component: the reference semantics.
    Wasmtime,
    /// wasmtime, module run as a core module through Morph's ABI.
    WasmtimeCore,
    /// wasmer with Cranelift: optimizing JIT.
    WasmerCranelift,
    /// wasmer with Singlepass: fast compiles, slower code.
    WasmerSinglepass,
    /// wasmi: interpreter, for targets without a JIT.
    Wasmi,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Wasmtime => Backend::Wasmtime,
            BackendArg::WasmtimeCore => Backend::WasmtimeCore,
            BackendArg::WasmerCranelift => Backend::WasmerCranelift,
            BackendArg::WasmerSinglepass => Backend::WasmerSinglepass,
            BackendArg::Wasmi => Backend::Wasmi,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flag offers exactly the library's backends, by the library's names: a
    /// backend added to `Backend::ALL` fails this until `--backend` offers it.
    #[test]
    fn the_flag_names_every_backend_as_the_library_does() {
        let flag: Vec<(String, &str)> = BackendArg::value_variants()
            .iter()
            .filter_map(|b| {
                let value = b.to_possible_value()?;
                Some((value.get_name().to_owned(), Backend::from(*b).name()))
            })
            .collect();
        for (spelled, name) in &flag {
            assert_eq!(spelled, name);
        }
        let names: Vec<&str> = flag.iter().map(|(_, n)| *n).collect();
        let all: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names, all);
    }
}

//! A loaded extension: compiled, instantiated, described, with its schemas compiled.

use crate::backend::Backend;
use morph_abi::ExtensionInfo;
use morph_runtime::{
    CompiledModule, DenyAll, Error, ErrorKind, HostHandler, Instance, InstanceConfig, Limits,
    Result, Usage,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Options for [`Extension::load`].
#[derive(Clone)]
pub struct LoadOptions {
    /// Which backend runs the module.
    pub backend: Backend,
    /// Resource limits.
    pub limits: Limits,
    /// The host-call handler; [`DenyAll`] by default.
    pub handler: Arc<dyn HostHandler>,
    /// A label for logs until `describe` names the extension (the file name, say).
    pub label: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            backend: Backend::Wasmtime,
            limits: Limits::default(),
            handler: Arc::new(DenyAll),
            label: "extension".to_owned(),
        }
    }
}

struct ActionSchemas {
    input: jsonschema::Validator,
    output: jsonschema::Validator,
}

/// A running extension: one instance on one backend, its description, and the compiled
/// JSON Schemas of its actions. Calls take `&mut self`: one at a time.
pub struct Extension {
    instance: Box<dyn Instance>,
    info: ExtensionInfo,
    schemas: HashMap<String, ActionSchemas>,
    backend: Backend,
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension")
            .field("id", &self.info.id)
            .field("version", &self.info.version)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn compile_schema(owner: &str, which: &str, text: &str) -> Result<jsonschema::Validator> {
    let bad = |why: String| {
        Error::new(ErrorKind::InvalidOutput {
            message: format!("{owner} declares an {which} schema that {why}"),
        })
    };
    let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("is not JSON: {e}")))?;
    jsonschema::validator_for(&value).map_err(|e| bad(format!("is not a valid JSON Schema: {e}")))
}

/// The first few schema violations of `value`, as one line.
fn violations(validator: &jsonschema::Validator, value: &Value) -> Option<String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(3)
        .map(|e| {
            let path = e.instance_path.to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("at {path}: {e}")
            }
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// A module compiled for one backend: instantiate it many times with
/// [`Extension::from_compiled`]. Cheap to clone and share across threads.
#[derive(Clone)]
pub struct Compiled {
    module: Arc<dyn CompiledModule>,
    backend: Backend,
}

impl Compiled {
    /// The backend it was compiled for.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What validation learned about the module.
    pub fn info(&self) -> &morph_runtime::ModuleInfo {
        self.module.info()
    }
}

impl Extension {
    /// Validates, compiles and instantiates `wasm` on `options.backend`, then calls
    /// `describe()` and compiles the declared schemas.
    ///
    /// # Errors
    /// Any validation error of [`morph_runtime::validate`], a trap or limit in the start
    /// function or `describe`, or `InvalidOutput` when a declared schema is not a JSON
    /// Schema.
    pub fn load(wasm: &[u8], options: LoadOptions) -> Result<Extension> {
        let compiled = Self::compile(wasm, &options)?;
        Self::from_compiled(&compiled, options)
    }

    /// Validates and compiles `wasm` for `options.backend` under `options.limits` (the
    /// memory and module-size limits and, with deterministic metering, the CPU budget
    /// are part of the compiled code).
    ///
    /// # Errors
    /// Any validation error of [`morph_runtime::validate`], or `Engine`.
    pub fn compile(wasm: &[u8], options: &LoadOptions) -> Result<Compiled> {
        let runtime = options.backend.runtime()?;
        Ok(Compiled {
            module: runtime.compile(wasm, &options.limits)?,
            backend: options.backend,
        })
    }

    /// Instantiates compiled code, then calls `describe()` and compiles the schemas.
    /// `options.backend` is ignored: the code's own backend runs it.
    ///
    /// # Errors
    /// A trap or limit in the start function or `describe`, or `InvalidOutput` when a
    /// declared schema is not a JSON Schema.
    pub fn from_compiled(compiled: &Compiled, options: LoadOptions) -> Result<Extension> {
        let runtime = compiled.backend.runtime()?;
        let mut instance = runtime.instantiate(
            &*compiled.module,
            InstanceConfig {
                limits: options.limits,
                handler: options.handler,
                label: options.label,
            },
        )?;
        let info = instance.describe()?;
        let mut schemas = HashMap::new();
        for action in &info.actions {
            let owner = format!("action `{}`", action.name);
            let s = ActionSchemas {
                input: compile_schema(&owner, "input", &action.input_schema)?,
                output: compile_schema(&owner, "output", &action.output_schema)?,
            };
            if schemas.insert(action.name.clone(), s).is_some() {
                return Err(Error::new(ErrorKind::InvalidOutput {
                    message: format!("action `{}` is declared twice", action.name),
                }));
            }
        }
        Ok(Extension {
            instance,
            info,
            schemas,
            backend: compiled.backend,
        })
    }

    /// What the extension said of itself.
    pub fn info(&self) -> &ExtensionInfo {
        &self.info
    }

    /// The backend it runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What the last call used.
    pub fn usage(&self) -> Usage {
        self.instance.usage()
    }

    /// Runs `action` with `input` (JSON text): checks that the action exists and that the
    /// input is JSON matching the action's input schema, calls the guest, and checks that
    /// the output is JSON matching the output schema. Returns the output as the guest
    /// wrote it.
    ///
    /// # Errors
    /// `UnknownAction`, `InvalidInput`, `Guest`, `PermissionDenied`, a trap, a limit,
    /// `BadGuestData`, or `InvalidOutput`.
    pub fn run(&mut self, action: &str, input: &str) -> Result<String> {
        let Some(schemas) = self.schemas.get(action) else {
            return Err(Error::new(ErrorKind::UnknownAction {
                action: action.to_owned(),
                available: self.info.actions.iter().map(|a| a.name.clone()).collect(),
            }));
        };
        let value: Value = serde_json::from_str(input).map_err(|e| {
            Error::new(ErrorKind::InvalidInput {
                action: action.to_owned(),
                message: format!("the input is not JSON: {e}"),
            })
        })?;
        if let Some(why) = violations(&schemas.input, &value) {
            return Err(Error::new(ErrorKind::InvalidInput {
                action: action.to_owned(),
                message: format!("the input does not match the action's schema: {why}"),
            }));
        }
        let output = self.instance.execute(action, input)?;
        let value: Value = serde_json::from_str(&output).map_err(|e| {
            Error::new(ErrorKind::InvalidOutput {
                message: format!("action `{action}` returned output that is not JSON: {e}"),
            })
        })?;
        if let Some(why) = violations(&schemas.output, &value) {
            return Err(Error::new(ErrorKind::InvalidOutput {
                message: format!(
                    "action `{action}` returned output that does not match its schema: {why}"
                ),
            }));
        }
        Ok(output)
    }
}

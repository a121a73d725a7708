//! The call sequence of the contract's exports over a core module, written once for every
//! core backend: lower the arguments with `cabi_realloc`, call, lift the result from the
//! return area, call `cabi_post_*`.

use crate::abi::{Lifter, Lowerer};
use crate::error::{Error, Limit, Result};
use crate::host::HostCaller;
use crate::module::ModuleInfo;
use morph_abi::{Error as GuestError, ExtensionInfo};

/// Which export a post-return call follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostReturn {
    /// `cabi_post_describe`
    Describe,
    /// `cabi_post_execute`
    Execute,
}

/// What a core backend implements so that [`describe`] and [`execute`] can drive it.
/// Every method maps engine errors (traps, fuel, interrupts) to Morph errors, passing
/// host-call errors through unchanged.
pub trait CoreInstance: HostCaller {
    /// Arms the limits for a new guest call: resets counters, refuels, sets the deadline.
    ///
    /// # Errors
    /// `Engine` when the engine refuses the settings.
    fn begin(&mut self) -> Result<()>;

    /// Calls `describe` and returns its return-area pointer.
    ///
    /// # Errors
    /// A trap or limit.
    fn call_describe(&mut self) -> Result<u32>;

    /// Calls `execute(action_ptr, action_len, input_ptr, input_len)`.
    ///
    /// # Errors
    /// A trap or limit.
    fn call_execute(&mut self, args: [u32; 4]) -> Result<u32>;

    /// Calls `cabi_post_describe` or `cabi_post_execute`.
    ///
    /// # Errors
    /// A trap or limit.
    fn call_post_return(&mut self, which: PostReturn, retptr: u32) -> Result<()>;
}

/// Runs `describe()` on a core instance.
///
/// # Errors
/// A trap, a limit, or `BadGuestData`.
pub fn describe(inst: &mut dyn CoreInstance, module: &ModuleInfo) -> Result<ExtensionInfo> {
    inst.host().check_usable()?;
    let r = describe_inner(inst, module);
    inst.host().settle(r)
}

fn describe_inner(inst: &mut dyn CoreInstance, module: &ModuleInfo) -> Result<ExtensionInfo> {
    inst.begin()?;
    let ret = inst.call_describe()?;
    let max = inst.host().limits().max_output_bytes;
    let info: ExtensionInfo = Lifter::new(inst, max).load(ret)?;
    if module.has_post_describe {
        inst.call_post_return(PostReturn::Describe, ret)?;
    }
    inst.host().set_extension(&info.id);
    Ok(info)
}

/// Runs `execute(action, input)` on a core instance.
///
/// # Errors
/// `Guest` or `PermissionDenied` for the action's own error; a trap, a limit, or
/// `BadGuestData` otherwise.
pub fn execute(
    inst: &mut dyn CoreInstance,
    module: &ModuleInfo,
    action: &str,
    input: &str,
) -> Result<String> {
    inst.host().check_usable()?;
    let r = execute_inner(inst, module, action, input);
    inst.host().settle(r)
}

fn execute_inner(
    inst: &mut dyn CoreInstance,
    module: &ModuleInfo,
    action: &str,
    input: &str,
) -> Result<String> {
    let max_in = inst.host().limits().max_input_bytes;
    let size = (action.len() + input.len()) as u64;
    if size > u64::from(max_in) {
        return Err(Error::limit(Limit::Input, size, u64::from(max_in)));
    }
    inst.begin()?;
    let (a, i) = {
        let mut l = Lowerer::new(inst);
        (
            l.bytes(action.as_bytes(), 1)?,
            l.bytes(input.as_bytes(), 1)?,
        )
    };
    let ret = inst.call_execute([a.0, a.1, i.0, i.1])?;
    let max = inst.host().limits().max_output_bytes;
    let result: std::result::Result<String, GuestError> = Lifter::new(inst, max).load(ret)?;
    if module.has_post_execute {
        inst.call_post_return(PostReturn::Execute, ret)?;
    }
    result.map_err(|e| inst.host().guest_error(e))
}

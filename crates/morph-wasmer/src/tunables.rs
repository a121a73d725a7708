//! The memory limit: engine tunables that wrap every linear memory in a capped one.
//!
//! wasmer's tunables belong to an engine, and an engine serves every instance of its
//! modules, while the memory limit belongs to one instance. So the instance's cap travels
//! to the tunables through a thread-local slot that [`instantiating`] fills for the
//! duration of `Instance::new` (which creates the memories on the calling thread). A
//! memory created with no cap in the slot is refused rather than left unbounded.

use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmer::sys::BaseTunables;
use wasmer::sys::vm::{
    ExpectedValue, LinearMemory, ThreadConditions, Trap, VMConfig, VMMemory, VMMemoryDefinition,
    VMSharedMemory, VMTable, VMTableDefinition, WaiterError,
};
use wasmer::{MemoryError, MemoryStyle, MemoryType, Pages, TableStyle, TableType, WASM_PAGE_SIZE};

/// Table elements a guest may grow to (as on the wasmtime backend).
const MAX_TABLE_ELEMENTS: u32 = 100_000;

/// One instance's memory cap, shared between its capped memory and the instance.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    max_bytes: u64,
    /// The size in bytes of the last refused growth in this call; 0 when none.
    refused: AtomicU64,
}

impl MemoryCap {
    pub(crate) fn new(max_bytes: u64) -> Arc<Self> {
        Arc::new(MemoryCap {
            max_bytes,
            refused: AtomicU64::new(0),
        })
    }

    /// Forgets a refusal; called before each guest call.
    pub(crate) fn reset(&self) {
        self.refused.store(0, Ordering::Relaxed);
    }

    /// The size a growth was refused at in this call, if one was.
    pub(crate) fn refused(&self) -> Option<u64> {
        match self.refused.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    fn allows(&self, pages: u64) -> bool {
        let bytes = pages.saturating_mul(WASM_PAGE_SIZE as u64);
        if bytes > self.max_bytes {
            self.refused.store(bytes.max(1), Ordering::Relaxed);
            return false;
        }
        true
    }
}

thread_local! {
    static INSTANTIATING: RefCell<Option<Arc<MemoryCap>>> = const { RefCell::new(None) };
}

/// Runs `f` (an `Instance::new`) with `cap` applying to the memories it creates.
pub(crate) fn instantiating<T>(cap: &Arc<MemoryCap>, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            INSTANTIATING.with(|slot| slot.borrow_mut().take());
        }
    }
    INSTANTIATING.with(|slot| *slot.borrow_mut() = Some(cap.clone()));
    let _reset = Reset;
    f()
}

fn current_cap() -> Result<Arc<MemoryCap>, MemoryError> {
    INSTANTIATING
        .with(|slot| slot.borrow().clone())
        .ok_or_else(|| {
            MemoryError::Generic("morph-wasmer: memory created outside an instantiation".into())
        })
}

/// wasmer's [`BaseTunables`] with capped memories and tables.
pub(crate) struct CapTunables {
    base: BaseTunables,
}

impl CapTunables {
    pub(crate) fn new(base: BaseTunables) -> Self {
        CapTunables { base }
    }

    fn cap(memory: VMMemory, cap: Arc<MemoryCap>) -> Result<VMMemory, MemoryError> {
        let pages = u64::from(memory.size().0);
        if !cap.allows(pages) {
            return Err(MemoryError::MinimumMemoryTooLarge {
                min_requested: memory.size(),
                max_allowed: Pages(
                    u32::try_from(cap.max_bytes / WASM_PAGE_SIZE as u64).unwrap_or(u32::MAX),
                ),
            });
        }
        Ok(VMMemory(Box::new(CappedMemory { inner: memory, cap })))
    }
}

fn cap_table(ty: &TableType) -> Result<TableType, String> {
    if ty.minimum > MAX_TABLE_ELEMENTS {
        return Err(format!(
            "the table's minimum of {} elements exceeds the limit of {MAX_TABLE_ELEMENTS}",
            ty.minimum
        ));
    }
    let mut ty = *ty;
    ty.maximum = Some(
        ty.maximum
            .map_or(MAX_TABLE_ELEMENTS, |m| m.min(MAX_TABLE_ELEMENTS)),
    );
    Ok(ty)
}

impl wasmer::sys::Tunables for CapTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        let cap = current_cap()?;
        Self::cap(self.base.create_host_memory(ty, style)?, cap)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        let cap = current_cap()?;
        // SAFETY: forwarded contract: the caller passes a valid definition location.
        let memory = unsafe {
            self.base
                .create_vm_memory(ty, style, vm_definition_location)?
        };
        Self::cap(memory, cap)
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(&cap_table(ty)?, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        let ty = cap_table(ty)?;
        // SAFETY: forwarded contract: the caller passes a valid definition location.
        unsafe {
            self.base
                .create_vm_table(&ty, style, vm_definition_location)
        }
    }

    fn vmconfig(&self) -> &VMConfig {
        self.base.vmconfig()
    }
}

/// A linear memory that refuses to grow beyond its instance's cap and remembers the
/// refusal. Everything else is the wrapped memory's.
#[derive(Debug)]
struct CappedMemory {
    inner: VMMemory,
    cap: Arc<MemoryCap>,
}

impl LinearMemory for CappedMemory {
    fn ty(&self) -> MemoryType {
        self.inner.ty()
    }

    fn size(&self) -> Pages {
        self.inner.size()
    }

    fn style(&self) -> MemoryStyle {
        self.inner.style()
    }

    fn grow(&mut self, delta: Pages) -> Result<Pages, MemoryError> {
        let current = self.inner.size();
        if !self.cap.allows(u64::from(current.0) + u64::from(delta.0)) {
            return Err(MemoryError::CouldNotGrow {
                current,
                attempted_delta: delta,
            });
        }
        self.inner.grow(delta)
    }

    fn grow_at_least(&mut self, min_size: u64) -> Result<(), MemoryError> {
        if min_size > self.cap.max_bytes {
            self.cap.refused.store(min_size, Ordering::Relaxed);
            return Err(MemoryError::CouldNotGrow {
                current: self.inner.size(),
                attempted_delta: Pages(0),
            });
        }
        self.inner.grow_at_least(min_size)
    }

    fn reset(&mut self) -> Result<(), MemoryError> {
        self.inner.reset()
    }

    fn vmmemory(&self) -> NonNull<VMMemoryDefinition> {
        self.inner.vmmemory()
    }

    fn try_clone(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        Ok(Box::new(CappedMemory {
            inner: VMMemory(LinearMemory::try_clone(&self.inner)?),
            cap: self.cap.clone(),
        }))
    }

    unsafe fn initialize_with_data(&self, start: usize, data: &[u8]) -> Result<(), Trap> {
        // SAFETY: forwarded contract.
        unsafe { self.inner.initialize_with_data(start, data) }
    }

    fn copy(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        Ok(Box::new(CappedMemory {
            inner: VMMemory(LinearMemory::copy(&self.inner)?),
            cap: self.cap.clone(),
        }))
    }

    fn as_shared(&self) -> Result<VMSharedMemory, MemoryError> {
        self.inner.as_shared()
    }

    unsafe fn do_wait(
        &mut self,
        dst: u32,
        expected: ExpectedValue,
        timeout: Option<Duration>,
    ) -> Result<u32, WaiterError> {
        // SAFETY: forwarded contract.
        unsafe { self.inner.do_wait(dst, expected, timeout) }
    }

    fn do_notify(&mut self, dst: u32, count: u32) -> u32 {
        self.inner.do_notify(dst, count)
    }

    fn thread_conditions(&self) -> Option<&ThreadConditions> {
        self.inner.thread_conditions()
    }
}

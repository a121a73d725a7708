//! The one Canonical ABI implementation for the contract's types.
//!
//! Every core-module backend moves data across the sandbox boundary through this module:
//! [`GuestMemory`] is the only thing a backend implements (checked reads and writes of its
//! linear memory, and a call to the guest's `cabi_realloc`); lifting (guest to host) and
//! lowering (host to guest) of every contract type are written here once. Layouts follow
//! the component model's Canonical ABI exactly, so that a module built by wit-bindgen runs
//! the same as a core module here as it does as a component on wasmtime.
//!
//! Everything a guest hands back is untrusted: every pointer and length is bounds-checked
//! (in [`check_range`]), every pointer's alignment is checked against its type, every
//! string is checked for UTF-8, every discriminant for range, and the bytes lifted per call
//! are capped, before any allocation of that size happens on the host.

use crate::error::{Error, Limit, Result};
use morph_abi::{
    ActionInfo, Completion, CompletionRequest, Error as GuestError, ErrorKind as GuestErrorKind,
    EventInfo, ExtensionInfo, Header, HostError, HostErrorKind, HttpRequest, HttpResponse,
    LogLevel, Message, Method, Notification, Role, SideEffect, Urgency,
};

/// A guest's linear memory, as a backend exposes it to the shared ABI code.
///
/// Implementations check bounds with [`check_range`] and return
/// [`ErrorKind::BadGuestData`](crate::ErrorKind::BadGuestData) for an access outside the
/// memory; they never panic. Allocation (the guest's `cabi_realloc`) is not here: it runs
/// guest code, which is async on some backends, so lowering is planned first
/// ([`LowerPlan`]), the backend allocates, and the writes follow.
pub trait GuestMemory {
    /// Copies `buf.len()` bytes starting at `ptr` into `buf`.
    ///
    /// # Errors
    /// `BadGuestData` when the range is outside the memory.
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()>;

    /// Copies `data` into the memory starting at `ptr`.
    ///
    /// # Errors
    /// `BadGuestData` when the range is outside the memory.
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<()>;

    /// The memory's current size in bytes.
    fn size(&mut self) -> u64;
}

/// Checks that `ptr..ptr+len` lies inside a memory of `mem_len` bytes and returns it as a
/// `usize` range. The one bounds check every backend uses; the sum is computed widened, so
/// no guest value can overflow it.
///
/// # Errors
/// `BadGuestData` naming the pointer, the length and the memory's size.
#[inline]
pub fn check_range(ptr: u32, len: usize, mem_len: usize) -> Result<std::ops::Range<usize>> {
    let start = ptr as usize;
    match start.checked_add(len) {
        Some(end) if end <= mem_len => Ok(start..end),
        _ => Err(Error::bad_guest_data(format!(
            "pointer {ptr:#x} with length {len} is out of bounds of memory ({mem_len} bytes)"
        ))),
    }
}

/// Checks the whole range `ptr..ptr+len` once, widened to 64 bits, before any field
/// inside it is addressed.
fn check_whole(mem: &mut dyn GuestMemory, ptr: u32, len: u64, what: &str) -> Result<()> {
    let end = u64::from(ptr).saturating_add(len);
    let size = mem.size();
    if end > size {
        return Err(Error::bad_guest_data(format!(
            "{what} at {ptr:#x} ({len} bytes) is out of bounds of memory ({size} bytes)"
        )));
    }
    Ok(())
}

/// `ptr + off` for a field inside a range already checked by [`check_whole`]; checked all
/// the same, so that no guest value is ever summed unchecked.
#[inline]
fn field(ptr: u32, off: u32) -> Result<u32> {
    ptr.checked_add(off).ok_or_else(|| {
        Error::bad_guest_data(format!(
            "pointer {ptr:#x} plus offset {off} overflows the address space"
        ))
    })
}

/// Rounds `offset` up to a multiple of `align` (a power of two). Only ever called on the
/// contract's constant layouts.
pub(crate) const fn align_to(offset: u32, align: u32) -> u32 {
    offset.wrapping_add(align.wrapping_sub(1)) & !align.wrapping_sub(1)
}

const fn max(a: u32, b: u32) -> u32 {
    if a > b { a } else { b }
}

/// Lifting context: the memory and what is left of the byte budget.
pub(crate) struct Lifter<'a> {
    mem: &'a mut dyn GuestMemory,
    used: u64,
    max: u64,
    /// Which limit the budget stands for, for the error.
    limit: Limit,
}

impl<'a> Lifter<'a> {
    /// A lifter that may copy at most `max_bytes` out of the guest, reporting `limit`
    /// when the guest hands back more.
    pub(crate) fn new(mem: &'a mut dyn GuestMemory, max_bytes: u64, limit: Limit) -> Self {
        Lifter {
            mem,
            used: 0,
            max: max_bytes,
            limit,
        }
    }

    /// Bytes copied so far (what [`Abi::guest_bytes`] counts for the values lifted).
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// Charges `bytes` to the budget before they are copied.
    fn charge(&mut self, bytes: u64) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.max {
            return Err(Error::limit(self.limit, self.used, self.max));
        }
        Ok(())
    }

    fn read_array<const N: usize>(&mut self, ptr: u32) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.mem.read(ptr, &mut buf)?;
        Ok(buf)
    }

    fn bytes(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>> {
        // Out of bounds is the more fundamental fault (and what the component model
        // reports): check the range before blaming the size.
        check_whole(self.mem, ptr, u64::from(len), "byte list")?;
        self.charge(u64::from(len))?;
        let mut buf = vec![0u8; len as usize];
        self.mem.read(ptr, &mut buf)?;
        Ok(buf)
    }

    pub(crate) fn string(&mut self, ptr: u32, len: u32) -> Result<String> {
        let bytes = self.bytes(ptr, len)?;
        String::from_utf8(bytes).map_err(|e| {
            Error::bad_guest_data(format!(
                "string at {ptr:#x} (length {len}) is not valid UTF-8: {e}"
            ))
        })
    }

    pub(crate) fn list<T: Abi>(&mut self, ptr: u32, len: u32) -> Result<Vec<T>> {
        check_align(ptr, T::ALIGN, "list")?;
        let total = u64::from(len).saturating_mul(u64::from(T::SIZE));
        check_whole(self.mem, ptr, total, "list")?;
        T::load_list(self, ptr, len)
    }

    pub(crate) fn load<T: Abi>(&mut self, ptr: u32) -> Result<T> {
        check_align(ptr, T::ALIGN, "value")?;
        check_whole(self.mem, ptr, u64::from(T::SIZE), "value")?;
        T::load(self, ptr)
    }
}

/// The allocations that lowering a value needs, in the order lowering makes them: what a
/// backend hands to the guest's `cabi_realloc` before the writes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LowerPlan {
    /// `(align, size)` of each allocation.
    pub allocs: Vec<(u32, u32)>,
    /// Bytes the host will copy into guest memory.
    pub bytes: u64,
}

/// Lowering context. The same code runs twice over a value: once to plan the
/// allocations (no memory is touched), once to write with the pointers the guest's
/// allocator returned, so that backends whose allocator call is async share one ABI.
pub(crate) struct Lowerer<'a> {
    mem: Option<&'a mut dyn GuestMemory>,
    plan: LowerPlan,
    given: std::slice::Iter<'a, u32>,
}

impl<'a> Lowerer<'a> {
    /// Plans the lowering of `value` stored at a return area.
    pub(crate) fn plan<T: Abi>(value: &T) -> Result<LowerPlan> {
        let mut l = Lowerer {
            mem: None,
            plan: LowerPlan::default(),
            given: [].iter(),
        };
        value.store(&mut l, 0)?;
        Ok(l.plan)
    }

    /// Plans the lowering of byte strings (export arguments), one allocation each.
    pub(crate) fn plan_bytes(items: &[&[u8]]) -> Result<LowerPlan> {
        let mut l = Lowerer {
            mem: None,
            plan: LowerPlan::default(),
            given: [].iter(),
        };
        for b in items {
            l.bytes(b, 1)?;
        }
        Ok(l.plan)
    }

    /// A writer over `mem` with the pointers `ptrs` the allocator returned for a plan.
    pub(crate) fn writer(mem: &'a mut dyn GuestMemory, ptrs: &'a [u32]) -> Self {
        Lowerer {
            mem: Some(mem),
            plan: LowerPlan::default(),
            given: ptrs.iter(),
        }
    }

    pub(crate) fn bytes(&mut self, data: &[u8], align: u32) -> Result<(u32, u32)> {
        let len = u32::try_from(data.len())
            .map_err(|_| Error::engine("value too large for a 32-bit guest"))?;
        let ptr = self.alloc(align, len)?;
        self.raw_write(ptr, data)?;
        Ok((ptr, len))
    }

    fn raw_write(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
        match &mut self.mem {
            Some(mem) => mem.write(ptr, data),
            None => Ok(()),
        }
    }

    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let Some(mem) = &mut self.mem else {
            self.plan.allocs.push((align, size));
            self.plan.bytes = self.plan.bytes.saturating_add(u64::from(size));
            return Ok(0);
        };
        let ptr = *self
            .given
            .next()
            .ok_or_else(|| Error::engine("lowering needs more allocations than planned"))?;
        check_align(ptr, align, "cabi_realloc result")?;
        check_whole(&mut **mem, ptr, u64::from(size), "cabi_realloc result")?;
        Ok(ptr)
    }

    pub(crate) fn store<T: Abi>(&mut self, value: &T, ptr: u32) -> Result<()> {
        check_align(ptr, T::ALIGN, "return area")?;
        if let Some(mem) = &mut self.mem {
            check_whole(&mut **mem, ptr, u64::from(T::SIZE), "return area")?;
        }
        value.store(self, ptr)
    }
}

fn check_align(ptr: u32, align: u32, what: &str) -> Result<()> {
    if !ptr.is_multiple_of(align) {
        return Err(Error::bad_guest_data(format!(
            "{what} pointer {ptr:#x} is not aligned to {align} bytes"
        )));
    }
    Ok(())
}

/// A contract type with a Canonical ABI memory layout.
pub(crate) trait Abi: Sized {
    /// Size in memory.
    const SIZE: u32;
    /// Alignment in memory.
    const ALIGN: u32;

    /// Reads a value at `ptr` (already checked for alignment and bounds).
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self>;

    /// Writes the value at `ptr` (already checked for alignment), allocating what it owns.
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()>;

    /// The bytes a [`Lifter`] charges for this value: what it owns in guest memory
    /// outside its own `SIZE` bytes. The component backend, whose values wasmtime lifts,
    /// charges the same count, so budgets trip at the same byte everywhere.
    fn guest_bytes(&self) -> u64 {
        0
    }

    /// Reads `len` consecutive values at `ptr` (the whole range already checked).
    fn load_list(cx: &mut Lifter<'_>, ptr: u32, len: u32) -> Result<Vec<Self>> {
        let total = u64::from(len).saturating_mul(u64::from(Self::SIZE));
        cx.charge(total)?;
        let mut out = Vec::with_capacity(len as usize);
        let mut at = ptr;
        for _ in 0..len {
            out.push(Self::load(cx, at)?);
            at = field(at, Self::SIZE)?;
        }
        Ok(out)
    }

    /// Allocates and writes `items` as a list; returns `(ptr, len)`.
    fn store_list(items: &[Self], cx: &mut Lowerer<'_>) -> Result<(u32, u32)> {
        let len = u32::try_from(items.len())
            .map_err(|_| Error::engine("list too long for a 32-bit guest"))?;
        let size = len
            .checked_mul(Self::SIZE)
            .ok_or_else(|| Error::engine("list too large for a 32-bit guest"))?;
        let base = cx.alloc(Self::ALIGN, size)?;
        let mut at = base;
        for item in items {
            item.store(cx, at)?;
            at = at.wrapping_add(Self::SIZE);
        }
        Ok((base, len))
    }

    /// [`Abi::guest_bytes`] of a list of these.
    fn list_bytes(items: &[Self]) -> u64 {
        let own = (items.len() as u64).saturating_mul(u64::from(Self::SIZE));
        items
            .iter()
            .fold(own, |n, i| n.saturating_add(i.guest_bytes()))
    }
}

macro_rules! abi_int {
    ($($t:ty),*) => {$(
        impl Abi for $t {
            const SIZE: u32 = std::mem::size_of::<$t>() as u32;
            const ALIGN: u32 = std::mem::size_of::<$t>() as u32;
            fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
                Ok(<$t>::from_le_bytes(cx.read_array(ptr)?))
            }
            fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
                cx.raw_write(ptr, &self.to_le_bytes())
            }
        }
    )*};
}
abi_int!(u16, u32, u64);

impl Abi for u8 {
    const SIZE: u32 = 1;
    const ALIGN: u32 = 1;
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
        Ok(cx.read_array::<1>(ptr)?[0])
    }
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
        cx.raw_write(ptr, &[*self])
    }
    fn load_list(cx: &mut Lifter<'_>, ptr: u32, len: u32) -> Result<Vec<Self>> {
        cx.bytes(ptr, len)
    }
    fn store_list(items: &[Self], cx: &mut Lowerer<'_>) -> Result<(u32, u32)> {
        cx.bytes(items, 1)
    }
    fn list_bytes(items: &[Self]) -> u64 {
        items.len() as u64
    }
}

impl Abi for bool {
    const SIZE: u32 = 1;
    const ALIGN: u32 = 1;
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
        Ok(u8::load(cx, ptr)? != 0)
    }
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
        u8::from(*self).store(cx, ptr)
    }
}

impl Abi for () {
    const SIZE: u32 = 0;
    const ALIGN: u32 = 1;
    fn load(_: &mut Lifter<'_>, _: u32) -> Result<Self> {
        Ok(())
    }
    fn store(&self, _: &mut Lowerer<'_>, _: u32) -> Result<()> {
        Ok(())
    }
}

impl Abi for String {
    const SIZE: u32 = 8;
    const ALIGN: u32 = 4;
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
        let p = u32::load(cx, ptr)?;
        let len = u32::load(cx, field(ptr, 4)?)?;
        cx.string(p, len)
    }
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
        let (p, len) = cx.bytes(self.as_bytes(), 1)?;
        p.store(cx, ptr)?;
        len.store(cx, field(ptr, 4)?)
    }
    fn guest_bytes(&self) -> u64 {
        self.len() as u64
    }
}

impl<T: Abi> Abi for Vec<T> {
    const SIZE: u32 = 8;
    const ALIGN: u32 = 4;
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
        let p = u32::load(cx, ptr)?;
        let len = u32::load(cx, field(ptr, 4)?)?;
        cx.list(p, len)
    }
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
        let (p, len) = T::store_list(self, cx)?;
        p.store(cx, ptr)?;
        len.store(cx, field(ptr, 4)?)
    }
    fn guest_bytes(&self) -> u64 {
        T::list_bytes(self)
    }
}

fn discriminant(cx: &mut Lifter<'_>, ptr: u32, cases: u8, what: &str) -> Result<u8> {
    let d = u8::load(cx, ptr)?;
    if d >= cases {
        return Err(Error::bad_guest_data(format!(
            "invalid {what} discriminant {d} at {ptr:#x}"
        )));
    }
    Ok(d)
}

impl<T: Abi> Abi for Option<T> {
    const SIZE: u32 = align_to(
        align_to(1, T::ALIGN).wrapping_add(T::SIZE),
        max(1, T::ALIGN),
    );
    const ALIGN: u32 = max(1, T::ALIGN);
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
        match discriminant(cx, ptr, 2, "option")? {
            0 => Ok(None),
            _ => Ok(Some(T::load(cx, field(ptr, align_to(1, T::ALIGN))?)?)),
        }
    }
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
        match self {
            None => 0u8.store(cx, ptr),
            Some(v) => {
                1u8.store(cx, ptr)?;
                v.store(cx, field(ptr, align_to(1, T::ALIGN))?)
            }
        }
    }
    fn guest_bytes(&self) -> u64 {
        self.as_ref().map_or(0, Abi::guest_bytes)
    }
}

impl<T: Abi, E: Abi> Abi for std::result::Result<T, E> {
    const SIZE: u32 = align_to(
        align_to(1, max(T::ALIGN, E::ALIGN)).wrapping_add(max(T::SIZE, E::SIZE)),
        max(1, max(T::ALIGN, E::ALIGN)),
    );
    const ALIGN: u32 = max(1, max(T::ALIGN, E::ALIGN));
    fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
        let payload = field(ptr, align_to(1, max(T::ALIGN, E::ALIGN)))?;
        match discriminant(cx, ptr, 2, "result")? {
            0 => Ok(Ok(T::load(cx, payload)?)),
            _ => Ok(Err(E::load(cx, payload)?)),
        }
    }
    fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
        let payload = field(ptr, align_to(1, max(T::ALIGN, E::ALIGN)))?;
        match self {
            Ok(v) => {
                0u8.store(cx, ptr)?;
                v.store(cx, payload)
            }
            Err(e) => {
                1u8.store(cx, ptr)?;
                e.store(cx, payload)
            }
        }
    }
    fn guest_bytes(&self) -> u64 {
        match self {
            Ok(v) => v.guest_bytes(),
            Err(e) => e.guest_bytes(),
        }
    }
}

/// Implements [`Abi`] for a WIT enum (a `u8` discriminant), listing cases in WIT order.
macro_rules! abi_enum {
    ($t:ty, $what:literal: $($case:path),+ $(,)?) => {
        impl Abi for $t {
            const SIZE: u32 = 1;
            const ALIGN: u32 = 1;
            fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
                let d = u8::load(cx, ptr)?;
                <$t>::from_discriminant(d)
            }
            fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
                let cases = [$($case),+];
                let d = cases.iter().position(|c| c == self).unwrap_or(0) as u8;
                d.store(cx, ptr)
            }
        }
        impl FromDiscriminant for $t {
            fn from_discriminant(d: u8) -> Result<Self> {
                let cases = [$($case),+];
                cases.get(usize::from(d)).copied().ok_or_else(|| {
                    Error::bad_guest_data(format!(concat!("invalid ", $what, " discriminant {}"), d))
                })
            }
        }
    };
}

/// Decoding of a WIT enum from a flat (core wasm) value.
pub(crate) trait FromDiscriminant: Sized {
    fn from_discriminant(d: u8) -> Result<Self>;
    fn from_flat(v: u32) -> Result<Self> {
        Self::from_discriminant(u8::try_from(v).unwrap_or(u8::MAX))
    }
}

/// Implements [`Abi`] for a WIT record, listing fields in WIT order.
macro_rules! abi_record {
    ($t:ident { $($field:ident: $ft:ty),+ $(,)? }) => {
        impl Abi for $t {
            const ALIGN: u32 = {
                let mut a = 1;
                $( a = max(a, <$ft as Abi>::ALIGN); )+
                a
            };
            const SIZE: u32 = {
                let mut s = 0u32;
                $( s = align_to(s, <$ft as Abi>::ALIGN).wrapping_add(<$ft as Abi>::SIZE); )+
                align_to(s, Self::ALIGN)
            };
            fn load(cx: &mut Lifter<'_>, ptr: u32) -> Result<Self> {
                let mut off = 0u32;
                $(
                    off = align_to(off, <$ft as Abi>::ALIGN);
                    let $field = <$ft as Abi>::load(cx, field(ptr, off)?)?;
                    off = off.wrapping_add(<$ft as Abi>::SIZE);
                )+
                let _ = off;
                Ok($t { $($field),+ })
            }
            fn store(&self, cx: &mut Lowerer<'_>, ptr: u32) -> Result<()> {
                let mut off = 0u32;
                $(
                    off = align_to(off, <$ft as Abi>::ALIGN);
                    self.$field.store(cx, field(ptr, off)?)?;
                    off = off.wrapping_add(<$ft as Abi>::SIZE);
                )+
                let _ = off;
                Ok(())
            }
            fn guest_bytes(&self) -> u64 {
                0u64 $( .saturating_add(self.$field.guest_bytes()) )+
            }
        }
    };
}

abi_enum!(SideEffect, "side-effect": SideEffect::None, SideEffect::Read, SideEffect::Write, SideEffect::Destructive);
abi_enum!(GuestErrorKind, "error-kind":
    GuestErrorKind::InvalidInput, GuestErrorKind::UnknownAction, GuestErrorKind::NotFound,
    GuestErrorKind::PermissionDenied, GuestErrorKind::Unauthorized, GuestErrorKind::RateLimited,
    GuestErrorKind::Unavailable, GuestErrorKind::Timeout, GuestErrorKind::Config,
    GuestErrorKind::Internal);
abi_enum!(HostErrorKind, "host-error-kind":
    HostErrorKind::PermissionDenied, HostErrorKind::InvalidArgument, HostErrorKind::NotFound,
    HostErrorKind::LimitExceeded, HostErrorKind::Unavailable, HostErrorKind::Internal);
abi_enum!(LogLevel, "log level":
    LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error);
abi_enum!(Method, "http method":
    Method::Get, Method::Head, Method::Post, Method::Put, Method::Patch, Method::Delete,
    Method::Options);

abi_enum!(Urgency, "urgency": Urgency::Low, Urgency::Normal, Urgency::High);
abi_enum!(Role, "role": Role::System, Role::User, Role::Assistant);

abi_record!(ActionInfo {
    name: String,
    description: String,
    input_schema: String,
    output_schema: String,
    side_effect: SideEffect,
});
abi_record!(EventInfo {
    name: String,
    description: String,
    payload_schema: String,
});
abi_record!(ExtensionInfo {
    id: String,
    name: String,
    version: String,
    description: String,
    actions: Vec<ActionInfo>,
    events: Vec<EventInfo>,
    config_schema: Option<String>,
});
abi_record!(GuestError {
    kind: GuestErrorKind,
    message: String,
    details: Option<String>,
});
abi_record!(HostError {
    kind: HostErrorKind,
    message: String,
});
abi_record!(Header {
    name: String,
    value: String,
});
abi_record!(HttpResponse {
    status: u16,
    headers: Vec<Header>,
    body: Vec<u8>,
});
abi_record!(HttpRequest {
    method: Method,
    url: String,
    headers: Vec<Header>,
    body: Option<Vec<u8>>,
    secret: Option<String>,
    timeout_ms: Option<u32>,
});

abi_record!(Notification {
    title: String,
    body: String,
    urgency: Urgency,
});
abi_record!(Message {
    role: Role,
    content: String,
});
abi_record!(CompletionRequest {
    messages: Vec<Message>,
    max_tokens: Option<u32>,
});
abi_record!(Completion {
    content: String,
    model: String,
});

/// Flat (core wasm parameter) lifting helpers for import arguments.
impl Lifter<'_> {
    pub(crate) fn flat_option<T>(
        &mut self,
        disc: u32,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<Option<T>> {
        match disc {
            0 => Ok(None),
            1 => f(self).map(Some),
            d => Err(Error::bad_guest_data(format!(
                "invalid option discriminant {d} in a host call argument"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_canonical_abi() {
        assert_eq!((String::SIZE, String::ALIGN), (8, 4));
        assert_eq!((<Option<String>>::SIZE, <Option<String>>::ALIGN), (12, 4));
        assert_eq!(ActionInfo::SIZE, 36);
        assert_eq!(EventInfo::SIZE, 24);
        assert_eq!(ExtensionInfo::SIZE, 60);
        assert_eq!(GuestError::SIZE, 24);
        assert_eq!(<std::result::Result<String, GuestError>>::SIZE, 28);
        assert_eq!(<std::result::Result<u64, HostError>>::SIZE, 24);
        assert_eq!(<std::result::Result<u64, HostError>>::ALIGN, 8);
        assert_eq!(HttpResponse::SIZE, 20);
        assert_eq!(<std::result::Result<HttpResponse, HostError>>::SIZE, 24);
        assert_eq!(<std::result::Result<Option<Vec<u8>>, HostError>>::SIZE, 16);
    }

    #[test]
    fn check_range_refuses_overflow_and_out_of_bounds() {
        assert!(check_range(0, 10, 10).is_ok());
        assert!(check_range(1, 10, 10).is_err());
        assert!(check_range(u32::MAX, usize::MAX, 10).is_err());
        let err = check_range(0xffff_fff0, 0x20, 65536).unwrap_err();
        assert_eq!(err.class(), "bad-guest-data");
        assert!(err.to_string().contains("out of bounds"), "{err}");
    }

    /// A plain byte vector as guest memory, with a bump allocator.
    struct VecMem {
        data: Vec<u8>,
        next: u32,
    }

    impl GuestMemory for VecMem {
        fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
            let r = check_range(ptr, buf.len(), self.data.len())?;
            buf.copy_from_slice(&self.data[r]);
            Ok(())
        }
        fn write(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
            let r = check_range(ptr, data.len(), self.data.len())?;
            self.data[r].copy_from_slice(data);
            Ok(())
        }
        fn size(&mut self) -> u64 {
            self.data.len() as u64
        }
    }

    impl VecMem {
        fn alloc_plan(&mut self, plan: &LowerPlan) -> Vec<u32> {
            plan.allocs
                .iter()
                .map(|&(align, size)| {
                    let p = align_to(self.next, align);
                    self.next = p.wrapping_add(size);
                    p
                })
                .collect()
        }
    }

    #[test]
    fn extension_info_round_trips() {
        let info = ExtensionInfo {
            id: "x".into(),
            name: "X".into(),
            version: "1.0.0".into(),
            description: "d".into(),
            actions: vec![ActionInfo::new("a", "b").side_effect(SideEffect::Write)],
            events: vec![EventInfo::new(
                "e",
                "f",
                serde_json::json!({"type": "object"}),
            )],
            config_schema: Some("{}".into()),
        };
        let mut mem = VecMem {
            data: vec![0; 4096],
            next: 64,
        };
        let plan = Lowerer::plan(&info).unwrap();
        let ptrs = mem.alloc_plan(&plan);
        Lowerer::writer(&mut mem, &ptrs).store(&info, 0).unwrap();
        let mut lifter = Lifter::new(&mut mem, 1 << 20, Limit::Output);
        let back: ExtensionInfo = lifter.load(0).unwrap();
        assert_eq!(lifter.used(), info.guest_bytes());
        assert_eq!(back, info);
    }

    #[test]
    fn lifting_near_the_top_of_the_address_space_is_an_error_not_an_overflow() {
        let mut mem = VecMem {
            data: vec![0; 64],
            next: 0,
        };
        for ptr in [0xffff_fffc_u32, 0xffff_fff8, u32::MAX] {
            let e = Lifter::new(&mut mem, 1 << 20, Limit::Output)
                .load::<std::result::Result<String, GuestError>>(ptr & !3)
                .unwrap_err();
            assert_eq!(e.class(), "bad-guest-data", "{e}");
            let e = Lifter::new(&mut mem, 1 << 20, Limit::Output)
                .string(ptr, 16)
                .unwrap_err();
            assert_eq!(e.class(), "bad-guest-data", "{e}");
        }
    }
}

(module
  ;; Its allocator makes a host call: the host is lowering the action's arguments, and
  ;; the component model forbids leaving the instance then. One rule on every backend:
  ;; the call traps (no recursion, no native stack overflow).
  (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; ---- Morph WAT prelude (inserted by cargo xtask build) ----
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 32768))
  ;; A bump allocator: cabi_realloc(old_ptr, old_size, align, new_size).
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    ;; The adversary: a host call while the host lowers a value.
    (call $log (i32.const 2) (i32.const 1024) (i32.const 3))
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  ;; Strings: "wat" at 1024, "0.1.0" at 1032, "run" at 1040, "{}" at 1048.
  (data (i32.const 1024) "wat")
  (data (i32.const 1032) "0.1.0")
  (data (i32.const 1040) "run")
  (data (i32.const 1048) "{}")
  ;; extension-info at 512: id, name, version, description, actions, events, config-schema.
  (data (i32.const 512)
    "\00\04\00\00\03\00\00\00" "\00\04\00\00\03\00\00\00" "\08\04\00\00\05\00\00\00"
    "\00\04\00\00\00\00\00\00" "\58\02\00\00\01\00\00\00" "\00\00\00\00\00\00\00\00"
    "\00\00\00\00\00\00\00\00\00\00\00\00")
  ;; action-info at 600: name "run", description "", schemas "{}", side-effect none.
  (data (i32.const 600)
    "\10\04\00\00\03\00\00\00" "\00\04\00\00\00\00\00\00" "\18\04\00\00\02\00\00\00"
    "\18\04\00\00\02\00\00\00" "\00\00\00\00")
  (func (export "describe") (result i32) (i32.const 512))
  ;; Writes a result<string, error> with `tag` and the string (ptr, len) at 256.
  (func $ret (param $tag i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 256) (local.get $tag))
    (i32.store (i32.const 260) (local.get $ptr))
    (i32.store (i32.const 264) (local.get $len))
    (i32.const 256))
  ;; ---- end of prelude ----
  (@custom "morph:contract" "0.1.0")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))

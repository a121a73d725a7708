(module
  ;; `describe` answers 1000 actions whose four strings are all the same 48 MiB region:
  ;; 192 GiB if a host copied it all. Core backends count the bytes as they lift and stop
  ;; at the output limit; wasmtime's component model copies the value before Morph sees
  ;; it, so its hostcall fuel is set from the same budget. Every backend must answer
  ;; `limit-exceeded:output` having copied at most a few times the limit.
  (@custom "morph:contract" "0.1.0")
  (memory (export "memory") 800)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  ;; "wat" at 100, "0.1.0" at 104, "{}" at 112.
  (data (i32.const 100) "wat\000.1.0\00\00\00{}")
  ;; extension-info at 0: id, name, version, description, actions (1000 at 4096),
  ;; events, config-schema.
  (data (i32.const 0)
    "\64\00\00\00\03\00\00\00" "\64\00\00\00\03\00\00\00" "\68\00\00\00\05\00\00\00"
    "\64\00\00\00\00\00\00\00" "\00\10\00\00\e8\03\00\00" "\00\00\00\00\00\00\00\00"
    "\00\00\00\00\00\00\00\00\00\00\00\00")
  (func (export "describe") (result i32)
    (local $p i32)
    (local.set $p (i32.const 4096))
    (loop $actions
      ;; name, description, input-schema, output-schema: (1 MiB, 48 MiB) each.
      (i64.store (local.get $p) (i64.const 0x0300000000100000))
      (i64.store offset=8 (local.get $p) (i64.const 0x0300000000100000))
      (i64.store offset=16 (local.get $p) (i64.const 0x0300000000100000))
      (i64.store offset=24 (local.get $p) (i64.const 0x0300000000100000))
      (i32.store offset=32 (local.get $p) (i32.const 0))
      (local.set $p (i32.add (local.get $p) (i32.const 36)))
      (br_if $actions (i32.lt_u (local.get $p) (i32.const 40096))))
    (i32.const 0))
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (i32.const 112))
    (i32.store (i32.const 264) (i32.const 2))
    (i32.const 256)))

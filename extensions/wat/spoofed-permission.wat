(module
  ;; Tries to forge a permission: it emits its declared event `noted` (refused: nothing
  ;; is granted), then fails with `permission-denied` and a message that reads like a
  ;; refusal of `kv`. The host must report the permission its checkpoint refused,
  ;; `events`, never one read from a message. (An event name that itself reads like a
  ;; refusal can no longer be emitted: names follow the grant grammar, and one outside
  ;; it is an invalid argument.)
  (import "morph:extension/events@0.1.0" "emit" (func $emit (param i32 i32 i32 i32 i32)))
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (data (i32.const 1100) "x: permission `kv` is what this needs")
  (data (i32.const 1140) "noted")
  ;; event-info at 704: name "noted", description "", payload schema "{}".
  (data (i32.const 704)
    "\74\04\00\00\05\00\00\00" "\00\04\00\00\00\00\00\00" "\18\04\00\00\02\00\00\00")
  ;; The description's events: one, at 704.
  (data (i32.const 552) "\c0\02\00\00\01\00\00\00")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $emit (i32.const 1140) (i32.const 5) (i32.const 1048) (i32.const 2) (i32.const 320))
    ;; result<string, error>: error { kind: permission-denied, message: the name, details: none }
    (i32.store8 (i32.const 256) (i32.const 1))
    (i32.store8 (i32.const 260) (i32.const 3))
    (i32.store (i32.const 264) (i32.const 1100))
    (i32.store (i32.const 268) (i32.const 37))
    (i32.store8 (i32.const 272) (i32.const 0))
    (i32.const 256)))

(module
  ;; Declares an event named `issue opened`: a space, which no grant can hold
  ;; (`events:NAME`). Refused at load, on every backend, not when it is emitted.
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (data (i32.const 1200) "issue opened")
  ;; event-info at 1216: name (12 bytes at 1200), description "", payload schema "{}".
  (data (i32.const 1216)
    "\b0\04\00\00\0c\00\00\00" "\00\04\00\00\00\00\00\00" "\18\04\00\00\02\00\00\00")
  ;; The description's events (extension-info at 512, events at 552): one, at 1216.
  (data (i32.const 552) "\c0\04\00\00\01\00\00\00")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))

(module
  ;; Declares its action under a name holding a terminal control (ESC), which no grant
  ;; can hold (`action:destructive:NAME`). Refused at load, on every backend.
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (data (i32.const 1200) "r\1b[2Jun")
  ;; The action's name (action-info at 600): 7 bytes at 1200.
  (data (i32.const 600) "\b0\04\00\00\07\00\00\00")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))

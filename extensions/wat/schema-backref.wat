(module
  ;; Declares an output schema with a backtracking pattern under
  ;; `unevaluatedProperties`, which made jsonschema 0.33 panic. Refused at load.
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (data (i32.const 1200) "{\"patternProperties\":{\"^(a+)+\\\\1$\":{}},\"unevaluatedProperties\":false}")
  ;; The action's output schema (action-info at 600, output at 624).
  (data (i32.const 624) "\b0\04\00\00\45\00\00\00")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))

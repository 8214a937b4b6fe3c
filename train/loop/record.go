package loop

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Record is the outcome of one epoch. It is written as one flat JSON object per line of
// metrics.jsonl: epoch, steps, train_loss, train_accuracy (when the step reports Correct),
// the validation metrics under their own names, train_seconds, seconds, best.
type Record struct {
	Epoch         int     // 1-based
	Steps         int     // training steps in the epoch
	TrainLoss     float64 // mean training loss over the epoch's examples
	TrainAccuracy float64 // NaN when the step reports no Correct count
	Val           Metrics // from Config.Validate (nil without one)
	TrainSeconds  float64 // wall time of the training steps
	Seconds       float64 // wall time of the epoch including validation
	Best          bool    // whether this epoch's model became the best so far
}

var recordKeys = map[string]bool{
	"epoch": true, "steps": true, "train_loss": true, "train_accuracy": true,
	"train_seconds": true, "seconds": true, "best": true,
}

// MarshalJSON implements json.Marshaler. NaN and infinite values are left out.
func (r Record) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"epoch": r.Epoch, "steps": r.Steps, "best": r.Best,
	}
	put := func(k string, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			m[k] = v
		}
	}
	put("train_loss", r.TrainLoss)
	put("train_accuracy", r.TrainAccuracy)
	put("train_seconds", r.TrainSeconds)
	put("seconds", r.Seconds)
	for k, v := range r.Val {
		if recordKeys[k] {
			return nil, fmt.Errorf("loop: validation metric %q clashes with a record field", k)
		}
		put(k, v)
	}
	return json.Marshal(m)
}

// UnmarshalJSON implements json.Unmarshaler: keys that are not record fields become Val.
func (r *Record) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*r = Record{TrainAccuracy: math.NaN()}
	for k, raw := range m {
		var err error
		switch k {
		case "epoch":
			err = json.Unmarshal(raw, &r.Epoch)
		case "steps":
			err = json.Unmarshal(raw, &r.Steps)
		case "best":
			err = json.Unmarshal(raw, &r.Best)
		case "train_loss":
			err = json.Unmarshal(raw, &r.TrainLoss)
		case "train_accuracy":
			err = json.Unmarshal(raw, &r.TrainAccuracy)
		case "train_seconds":
			err = json.Unmarshal(raw, &r.TrainSeconds)
		case "seconds":
			err = json.Unmarshal(raw, &r.Seconds)
		default:
			var v float64
			if err = json.Unmarshal(raw, &v); err == nil {
				if r.Val == nil {
					r.Val = Metrics{}
				}
				r.Val[k] = v
			}
		}
		if err != nil {
			return fmt.Errorf("loop: record key %q: %w", k, err)
		}
	}
	return nil
}

// String formats the record as a one-line summary, e.g.
// "epoch  3/10  train loss 0.1234 acc 0.9612 | val_accuracy 0.9801 val_loss 0.0712 | 2.1s *".
func (r Record) String(epochs int) string {
	var sb strings.Builder
	w := len(fmt.Sprint(epochs))
	fmt.Fprintf(&sb, "epoch %*d/%d  train loss %.4f", w, r.Epoch, epochs, r.TrainLoss)
	if !math.IsNaN(r.TrainAccuracy) {
		fmt.Fprintf(&sb, " acc %.4f", r.TrainAccuracy)
	}
	if len(r.Val) > 0 {
		sb.WriteString(" |")
		for _, k := range r.Val.keys() {
			fmt.Fprintf(&sb, " %s %.4f", k, r.Val[k])
		}
	}
	fmt.Fprintf(&sb, " | %.1fs", r.Seconds)
	if r.Best {
		sb.WriteString(" *")
	}
	return sb.String()
}

package main

import (
	"io"
	"testing"

	"github.com/seqtorch/seqtorch/models/siamese"
)

// TestCheckParsesNames: check parses the names of the options once, into the typed values
// that training takes.
func TestCheckParsesNames(t *testing.T) {
	cl, err := trainCLI.Parse([]string{"--loss", "triplet", "--pooling", "mean", "--mining", "random", "--device", "cpu"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cl.Config
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	if o.loss != siamese.Triplet || o.pooling != siamese.PoolMean || o.mining != siamese.MineRandom || o.scale != siamese.ScaleOne || o.device.String() != "cpu" {
		t.Errorf("check parsed loss %v, pooling %v, mining %v, scale %v, device %v", o.loss, o.pooling, o.mining, o.scale, o.device)
	}
	cl, err = trainCLI.Parse(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o = cl.Config
	if err := o.check(); err != nil || o.loss != siamese.MaLSTM || o.scale != siamese.ScaleLearned || len(o.Hidden) != 2 {
		t.Errorf("defaults: loss %v, scale %v, hidden %v (%v); want malstm, learned and two layers", o.loss, o.scale, o.Hidden, err)
	}
}

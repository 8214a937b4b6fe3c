//go:build race

package smsrnn

const raceEnabled = true

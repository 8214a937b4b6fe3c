//go:build !race

package smsrnn

const raceEnabled = false

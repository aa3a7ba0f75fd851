//go:build !linux

package mimallocish

func readHugePagesPolicy() string { return "unavailable" }

func adviseHuge(addr, n uintptr) bool { return false }

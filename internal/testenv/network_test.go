package testenv

import (
	"net"
	"testing"
)

func TestServiceIPIsReservedForOneTestbedAtATime(t *testing.T) {
	ip := net.IPv4(127, 1, 0, 7) // outside the range testbeds pick from
	first, err := reserveServiceIP(ip)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := reserveServiceIP(ip); err == nil {
		second.Close()
		first.Close()
		t.Fatal("a second testbed reserved an address the first holds")
	}
	first.Close()
	again, err := reserveServiceIP(ip)
	if err != nil {
		t.Fatalf("the address stayed reserved after its testbed let it go: %v", err)
	}
	again.Close()
}

//go:build !linux

package main

import "errors"

func dropPrivileges(string) (string, error) {
	return "", errors.New("--user: dropping privileges is implemented for Linux only; pass --user \"\"")
}

func giveToUser(string, string) error { return nil }

func checkUser(name string) error {
	if name != "" {
		return settingError{errors.New("--user: dropping privileges is implemented for Linux only; pass --user \"\"")}
	}
	return nil
}

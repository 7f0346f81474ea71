package ui

import (
	"context"
	"errors"
	"net"
	"net/url"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
)

// showError shows what went wrong as a sentence a person understands, with
// the error's own text one click away under "Details". Call it on the UI
// goroutine. The error text never holds a token or a key (core's rule).
func (u *UI) showError(sentence string, err error) {
	if err == nil {
		return
	}
	u.logger.Warn(sentence, "err", err)
	if hint := errorHint(err); hint != "" {
		sentence += " " + hint
	}
	msg := widget.NewLabel(sentence)
	msg.Wrapping = fyne.TextWrapWord
	detail := widget.NewLabel(err.Error())
	detail.Wrapping = fyne.TextWrapWord
	detail.Selectable = true
	copyBtn := widget.NewButton("Copy details", func() {
		u.App.Clipboard().SetContent(err.Error())
	})
	details := widget.NewAccordion(widget.NewAccordionItem("Details",
		container.NewBorder(nil, copyBtn, nil, nil, detail)))
	d := dialog.NewCustom("Something went wrong", "Close", container.NewVBox(msg, details), u.Window)
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
}

// errorHint adds what a person can do about common errors.
func errorHint(err error) string {
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "It was cancelled."
	case errors.Is(err, core.ErrKeychainLocked):
		return "The keychain is locked: unlock it (log in to your desktop session, or use your keyring tool) and try again."
	case errors.Is(err, core.ErrKeychainUnavailable):
		return "No keychain could be reached: unlock or install your system keychain (on Linux, a Secret Service such as GNOME Keyring) and try again."
	case errors.Is(err, core.ErrExpired):
		return "The server no longer has this export; start a new one."
	case errors.Is(err, core.ErrIncomplete):
		return "Some files could not be downloaded yet: press Resume (or Retry failed files) to try them again."
	case errors.Is(err, core.ErrNotFound):
		return "It no longer exists."
	case errors.As(err, &netErr) && netErr.Timeout():
		return "The server did not answer in time; check the URL and your network."
	case errors.As(err, &urlErr):
		return "The server could not be reached; check the URL and your network."
	}
	return ""
}

// background runs f off the UI goroutine and hands its error, if any, to
// showError on the UI goroutine. done, when not nil, runs on the UI
// goroutine after f succeeds.
func (u *UI) background(sentence string, f func(ctx context.Context) error, done func()) {
	u.runAsync(func() {
		err := f(u.ctx)
		fyne.Do(func() {
			if err != nil {
				u.showError(sentence, err)
				return
			}
			if done != nil {
				done()
			}
		})
	})
}

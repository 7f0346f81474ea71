package core

import "errors"

// ErrInUse reports something another process is working on, such as an
// export being downloaded by another tranche command or window.
var ErrInUse = errors.New("in use by another process")

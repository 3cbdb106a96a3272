"""Google's pretrained BlazePose files: fetching, reading and importing into our networks."""

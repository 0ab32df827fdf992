module gomap

go 1.19

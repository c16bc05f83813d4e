"""Moving one file to the host: the upload service, the pipe from the platform's download to the
upload, the files kept between attempts, and what each file is sent with and as."""

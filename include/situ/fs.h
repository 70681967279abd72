/*
 * situ/fs.h: durable file operations shared by the writers of whole files
 * (situ backup, situ export): a file or a folder synced to disk, so that a
 * rename into place survives a power cut.
 */
#ifndef SITU_FS_H
#define SITU_FS_H

/* fsync(2) of the file at path (directory: 1 for a folder, after a rename
 * in it). Returns 0, or -1 with errno set. */
int situ_fs_sync(const char *path, int directory);

#endif

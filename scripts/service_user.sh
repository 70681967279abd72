# service_user.sh: sourced by the scripts that start situd. situd refuses to
# serve as root; run as root, they hand the data folder to $SITU_USER
# (default nobody) and start situd with --user, as an operator would.
#   situd_user_args FOLDER   sets SITUD_USER_ARGS (empty when not root)
situd_user_args() {
    SITUD_USER_ARGS=()
    if [ "$(id -u)" = 0 ]; then
        local user=${SITU_USER:-nobody}
        chown "$user:" "$1" "$1"/*.sqlite* 2>/dev/null || chown "$user:" "$1"
        SITUD_USER_ARGS=(--user "$user")
    fi
}

#!/bin/sh
# STAND-IN entrypoint: the official image's RABBITMQ_DEFAULT_USER/PASS become the first user.
set -eu
{
  echo "loopback_users = none"
  echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
  echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
} > /etc/rabbitmq/rabbitmq.conf
exec "$@"

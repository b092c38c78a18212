from django.apps import AppConfig


class IocConfig(AppConfig):
    name = "ioc"
    verbose_name = "IOC"

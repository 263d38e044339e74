"""allauth adapter: sign-ups become workers with a profile, through the accounts service."""

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        from .services import worker_profile_ensure

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            worker_profile_ensure(user=user)
        return user
